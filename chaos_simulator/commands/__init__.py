"""The `chaos` sub-commands, one module per job; chaos_simulator.cli assembles them."""
