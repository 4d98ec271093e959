"""Shared HTTP plumbing for every Relia component (standard library only)."""
