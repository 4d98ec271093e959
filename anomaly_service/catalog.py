"""The metric catalog: which signals to watch, read from YAML and validated."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# PromQL durations (`15s`, `1m30s`, `500ms`), in range selectors `[15s]`, subqueries `[30m:1m]`
# and `offset 5m`.
_DURATION = r"(?:\d+(?:ms|s|m|h|d|w|y))+"
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_UNIT_S["y"] = 365 * 86400.0
_RANGE_RE = re.compile(rf"\[\s*({_DURATION})\s*(:\s*(?:{_DURATION})?\s*)?\]")
_OFFSET_RE = re.compile(rf"\boffset\s+-?\s*({_DURATION})")
DIRECTIONS = ("up", "down", "both")
ON_MISSING = ("no_data", "ignore")
FIELDS = {
    "name",
    "query",
    "unit",
    "direction",
    "floor",
    "min_spread",
    "min_value",
    "max_value",
    "description",
    "on_missing",
    "runbook",
}


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names file, entry and field."""

    def __init__(self, file: str, entry: str | None, field: str | None, message: str) -> None:
        self.file, self.entry, self.field, self.reason = file, entry, field, message
        where = file
        if entry is not None:
            where += f": metric {entry!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class MetricSpec:
    """One watched signal: PromQL grouped by `service`, its unit, bad direction and floor/SLO."""

    name: str
    query: str
    unit: str
    direction: str  # up | down | both: which way is bad
    floor: float | None  # absolute floor/SLO: crossing it in the bad direction is impact
    min_spread: float | None = None  # smallest spread the baseline may assume (metric's unit)
    on_missing: str = "no_data"  # no_data: a vanished series is an anomaly; ignore: it is not
    description: str = ""
    # The range the signal can take (e.g. 0 for latency, 1 for a ratio): the band is clipped
    # to it, so a chart never shows a baseline band of negative seconds.
    min_value: float | None = None
    max_value: float | None = None
    runbook: str = ""  # a link for humans, shown in the triage packet

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clip_band(lower: float, upper: float, spec: MetricSpec) -> tuple[float, float]:
    """Keep the band inside the range the signal can take (no negative seconds or cores)."""
    if spec.min_value is not None:
        lower = max(lower, spec.min_value)
    if spec.max_value is not None:
        upper = min(upper, spec.max_value)
    return lower, upper


def duration_s(text: str) -> float:
    """A PromQL duration (`1m30s`) in seconds."""
    return sum(float(n) * _UNIT_S[unit] for n, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def query_window_s(query: str) -> float:
    """How far back a query reads: its longest range selector, plus its longest subquery range
    and offset (a subquery's steps each read the inner range, an offset moves the window back).
    0 for a query of plain instant selectors. After a hole in the data, the query's answer is
    whole again once this long has passed since the scrapes resumed."""
    ranges, subqueries = [0.0], [0.0]
    for match in _RANGE_RE.finditer(query):
        (subqueries if match.group(2) else ranges).append(duration_s(match.group(1)))
    offsets = [0.0, *(duration_s(m.group(1)) for m in _OFFSET_RE.finditer(query))]
    return max(ranges) + max(subqueries) + max(offsets)


def parse_catalog(text: str, file: str = "<catalog>") -> list[MetricSpec]:
    """Parse and validate catalog YAML; raise CatalogError naming file, entry and field."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(file, None, None, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or "metrics" not in doc:
        raise CatalogError(
            file, None, "metrics", "top level must be a mapping with a 'metrics' list"
        )
    entries = doc["metrics"]
    if not isinstance(entries, list) or not entries:
        raise CatalogError(file, None, "metrics", "must be a non-empty list")
    specs: list[MetricSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        spec = _parse_entry(entry, index, file)
        if spec.name in seen:
            raise CatalogError(file, spec.name, "name", "duplicate metric name")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def load_catalog(path: Path) -> list[MetricSpec]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise CatalogError(str(path), None, None, f"cannot read: {exc.strerror or exc}") from None
    return parse_catalog(text, str(path))


def _parse_entry(entry: Any, index: int, file: str) -> MetricSpec:
    label = f"#{index + 1}"
    if not isinstance(entry, dict):
        raise CatalogError(file, label, None, "each entry must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CatalogError(
            file,
            label,
            "name",
            "required; lower-case letters, digits and '_', starting with a letter",
        )
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise CatalogError(
            file, name, unknown[0], f"unknown field (allowed: {', '.join(sorted(FIELDS))})"
        )
    query = _query(entry, name, file)
    unit = _string(entry, "unit", name, file)
    direction = entry.get("direction")
    if direction not in DIRECTIONS:
        raise CatalogError(file, name, "direction", f"required: one of {', '.join(DIRECTIONS)}")
    floor = _number(entry, "floor", name, file)
    min_spread = _number(entry, "min_spread", name, file, positive=True)
    min_value = _number(entry, "min_value", name, file)
    max_value = _number(entry, "max_value", name, file)
    if min_value is not None and max_value is not None and min_value >= max_value:
        raise CatalogError(file, name, "max_value", "must be greater than min_value")
    on_missing = entry.get("on_missing", "no_data")
    if on_missing not in ON_MISSING:
        raise CatalogError(file, name, "on_missing", f"one of {', '.join(ON_MISSING)}")
    description = _string(entry, "description", name, file)
    runbook = entry.get("runbook", "")
    if not isinstance(runbook, str) or (
        runbook and not runbook.startswith(("http://", "https://"))
    ):
        raise CatalogError(file, name, "runbook", "must be an http(s) URL (or omitted)")
    return MetricSpec(
        name,
        query,
        unit,
        direction,
        floor,
        min_spread,
        on_missing,
        description,
        min_value,
        max_value,
        runbook,
    )


def _query(entry: dict[str, Any], name: str, file: str) -> str:
    query = entry.get("query")
    if not isinstance(query, str) or not query.strip():
        raise CatalogError(file, name, "query", "required: a PromQL expression grouped by service")
    if "service" not in query:
        raise CatalogError(file, name, "query", "must group by (or keep) the 'service' label")
    return query.strip()


def _string(entry: dict[str, Any], key: str, name: str, file: str) -> str:
    """An optional text field ("" when omitted)."""
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise CatalogError(file, name, key, "must be a string")
    return value


def _number(
    entry: dict[str, Any], key: str, name: str, file: str, positive: bool = False
) -> float | None:
    """An optional finite number field (strictly positive when `positive`)."""
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CatalogError(file, name, key, "must be a finite number (or omitted)")
    if positive and value <= 0:
        raise CatalogError(file, name, key, "must be a positive number (or omitted)")
    return float(value)
