"""Lenient readers of a backend's JSON: a number, an object or a list, else an empty value."""

from __future__ import annotations

from typing import Any


def num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def obj(value: Any) -> dict[str, Any]:
    """A backend's nested object, or {} when it sent something else (never raise on shapes)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
