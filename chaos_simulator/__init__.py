"""The `chaos` CLI: traffic, fault injection and closed-loop scenarios against Relia."""
