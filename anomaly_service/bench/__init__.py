"""Benchmarks of the detector core: NAB, synthetic, throughput (CLI in __main__)."""
