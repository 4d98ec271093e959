"""Relia policy engine: policies over anomalies -> guarded Docker actions."""
