"""The signals of the metric catalog, and the shipped catalog file read for them.

The catalog (`anomaly_service/catalog.yml`) is the one place a signal is defined: "add a signal,
no code change". The anomaly service validates it in full (anomaly_service/catalog.py) and serves
it at `GET /models` (`catalog[]`); the policy engine and the dashboard take the names from there.
Until the anomaly service has answered they need the names all the same (to check a condition,
to order a card), and they read them here, from the very file the anomaly service ships, instead
of keeping a copy. This reader takes only what they need, in the file's order.

Every component image carries the file at the same place next to this package
(component.Dockerfile), as an installed wheel does (package data of `anomaly_service`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SHIPPED_CATALOG = Path(__file__).resolve().parent.parent / "anomaly_service" / "catalog.yml"


class CatalogSignal(BaseModel):
    """One signal of the catalog as its consumers see it (a `GET /models` `catalog[]` entry)."""

    # ignore: the full entry has fields (floor, direction, ...) only the anomaly service uses.
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=63)
    unit: str = ""
    query: str = ""
    description: str = ""


class CatalogReadError(ValueError):
    """A catalog (file or `/models` answer) unreadable for its signals; names the source."""


def parse_signals(entries: Any, source: str) -> tuple[CatalogSignal, ...]:
    """The signals of a catalog list (the file's `metrics`, `/models`' `catalog`), in order;
    raise CatalogReadError naming `source`."""
    if not isinstance(entries, list) or not entries:
        raise CatalogReadError(f"{source}: the catalog is not a non-empty list")
    try:
        return tuple(CatalogSignal.model_validate(entry) for entry in entries)
    except ValidationError as exc:
        raise CatalogReadError(f"{source}: {exc.errors()[0]['msg']}") from None


@functools.cache
def shipped_signals(path: Path = SHIPPED_CATALOG) -> tuple[CatalogSignal, ...]:
    """The signals of the shipped catalog file, read once."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogReadError(f"{path}: cannot read the shipped catalog: {exc}") from None
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    return parse_signals(metrics, f"{path}: metrics")
