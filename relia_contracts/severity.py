"""The severity words, in order: the anomaly service reports them, policies compare them."""

from __future__ import annotations

from typing import Literal

SeverityWord = Literal["normal", "info", "warning", "critical"]
SEVERITIES: tuple[SeverityWord, ...] = ("normal", "info", "warning", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
