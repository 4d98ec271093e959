"""`python -m chaos_simulator` is the same as the `chaos` console script."""

from chaos_simulator.cli import main

if __name__ == "__main__":
    main()
