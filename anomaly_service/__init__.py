"""Relia anomaly service: learns each signal's normal and reports deviations."""
