"""orders: creates orders by validating the customer (users) and authorizing (payments)."""
