"""Benchmarks of the demo services (CLIs that print figures, never timed tests)."""
