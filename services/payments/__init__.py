"""payments: authorizes payments with a fraud score that costs real CPU."""
