"""users: a small customer directory (seeded u-1..u-50)."""
