"""The shared reader of the shipped metric catalog: the one source of signal names a component
uses before the anomaly service answers (policy conditions, dashboard order and links)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from dashboard.links import PublicLinks
from policy_engine.conditions import DEFAULT_METRICS
from relia_contracts.catalog import (
    SHIPPED_CATALOG,
    CatalogReadError,
    parse_signals,
    shipped_signals,
)


def test_the_shipped_signals_are_the_anomaly_services_catalog_in_order() -> None:
    full = load_catalog(DEFAULT_CATALOG)
    assert DEFAULT_CATALOG == SHIPPED_CATALOG
    assert [(s.name, s.unit, s.query) for s in shipped_signals()] == [
        (m.name, m.unit, m.query) for m in full
    ]


def test_consumers_start_from_the_shipped_file() -> None:
    names = [s.name for s in shipped_signals()]
    assert list(DEFAULT_METRICS) == names
    assert DEFAULT_METRICS["latency"] == "time"
    assert DEFAULT_METRICS["request_rate"] == "none"
    links = PublicLinks("http://g", "/d", "http://j", "http://p")
    assert [s["name"] for s in links.signals()] == names
    assert links.catalog_source == "shipped"


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "catalog.yml"
    with pytest.raises(CatalogReadError, match=r"catalog\.yml: cannot read"):
        shipped_signals(missing)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("metrics: [", "cannot read"),
        ("- just a list\n", "not a non-empty list"),
        ("metrics: []\n", "not a non-empty list"),
        ("metrics:\n  - unit: seconds\n", "Field required"),
    ],
)
def test_a_broken_file_is_an_error_naming_it(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(text)
    with pytest.raises(CatalogReadError, match=reason) as caught:
        shipped_signals(path)
    assert str(path) in str(caught.value)


def test_fields_only_the_anomaly_service_uses_are_ignored() -> None:
    entries = [{"name": "cpu", "unit": "cores", "floor": 0.8, "direction": "up"}]
    (signal,) = parse_signals(entries, "test")
    assert (signal.name, signal.unit, signal.query) == ("cpu", "cores", "")
