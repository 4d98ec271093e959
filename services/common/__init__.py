"""Shared instrumentation, fault injection and app builder of the demo services."""
