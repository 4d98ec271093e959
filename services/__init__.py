"""The three demo services (orders, users, payments) and their shared code."""
