"""`python -m services.bench`: instrumentation overhead, see services/bench/overhead.py."""

from services.bench.overhead import main

if __name__ == "__main__":
    raise SystemExit(main())
