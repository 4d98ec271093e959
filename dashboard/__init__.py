"""Relia's web dashboard: a backend-for-frontend over the anomaly service and policy engine."""
