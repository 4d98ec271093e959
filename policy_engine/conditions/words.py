"""The words a condition may use: metrics (with their unit kinds), severities, flags, units."""

from __future__ import annotations

from collections.abc import Mapping

from relia_contracts.catalog import shipped_signals
from relia_contracts.severity import SEVERITY_RANK

# catalog unit -> the unit kind conditions check numbers against (ms, %, MB, ... fit or not)
UNIT_KINDS = {"seconds": "time", "second": "time", "s": "time", "ratio": "ratio", "bytes": "bytes"}


def unit_kind(unit: object) -> str:
    """The unit kind of a catalog unit (`seconds` -> time); anything else is unitless."""
    return UNIT_KINDS.get(unit.strip().lower(), "none") if isinstance(unit, str) else "none"


# metric name -> unit kind, from the shipped catalog file (relia_contracts/catalog.py): the
# names conditions may use until the anomaly service's own catalog has been read.
DEFAULT_METRICS: dict[str, str] = {s.name: unit_kind(s.unit) for s in shipped_signals()}
# The live vocabulary: the anomaly service's catalog once read (policy_engine/vocabulary.py),
# the shipped catalog's names until then. Changed in place by set_vocabulary, so every
# importer sees it.
METRICS: dict[str, str] = dict(DEFAULT_METRICS)
SEVERITIES: dict[str, int] = SEVERITY_RANK
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
KEYWORDS = {"and", "or", "not"}
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("time", 0.001),
    "s": ("time", 1.0),
    "%": ("ratio", 0.01),
    "kb": ("bytes", 1e3),
    "mb": ("bytes", 1e6),
    "gb": ("bytes", 1e9),
    "kib": ("bytes", 1024.0),
    "mib": ("bytes", 1024.0**2),
    "gib": ("bytes", 1024.0**3),
}

# Words that are true or false on their own, read from the Context field of the same name:
# no_data (a series of the service is gone), caused_by_dependency (the service's trouble is a
# dependency's, per the anomaly service's attribution: docs/root-cause.md), caused_by_load (it
# started while the service's traffic and CPU were above their bands: docs/root-cause.md).
FLAGS = ("no_data", "caused_by_dependency", "caused_by_load")

# unit kind -> how an error message tells the user which units fit
KIND_WORDS = {
    "time": "in seconds: use ms or s",
    "ratio": "a ratio 0..1: use a plain number or %",
    "bytes": "in bytes: use KB, MB, GB, KiB, MiB or GiB",
    "none": "unitless: use a plain number",
}


def set_vocabulary(metrics: Mapping[str, str] | None) -> None:
    """Make `metrics` (name -> unit kind) the names conditions may use; None: the defaults.

    In place and never empty on the way (add first, then drop), so a parse running in another
    thread sees either set's names."""
    new = dict(DEFAULT_METRICS if metrics is None else metrics)
    METRICS.update(new)
    for name in [n for n in METRICS if n not in new]:
        del METRICS[name]
