"""Metric catalog parsing: defaults, and errors that name file, entry and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anomaly_service import __main__ as entry
from anomaly_service.catalog import CatalogError, load_catalog, parse_catalog
from anomaly_service.config import DEFAULT_CATALOG

POLICY_WORDS = ["latency", "error_rate", "cpu", "memory", "request_rate", "availability"]
# Signals beyond the spec's six, each documented where it is defined.
EXTRA_SIGNALS = ["cpu_wait", "probe_success", "probe_unanswered"]  # docs/root-cause.md


def test_latency_counts_slow_requests_at_its_floor() -> None:
    """The latency signal's slow-request count (docs/root-cause.md) reads the bucket at the
    floor: a floor changed alone would count requests against the old SLO."""
    (latency,) = [s for s in load_catalog(DEFAULT_CATALOG) if s.name == "latency"]
    edges = {float(v) for v in re.findall(r'le="([0-9.]+)"', latency.query)}
    assert edges == {latency.floor}
    assert "< 3" in latency.query  # fewer than 3 slow requests above the floor: no value


def test_error_rate_counts_errors_only_past_its_floor() -> None:
    """The error signal's 5xx count applies past the floor only: a floor changed alone would
    drop sub-floor values, or let one 5xx among a few requests through again."""
    (errors,) = [s for s in load_catalog(DEFAULT_CATALOG) if s.name == "error_rate"]
    thresholds = {float(v) for v in re.findall(r"\) > ([0-9.]+)", errors.query)}
    assert thresholds == {errors.floor}
    assert "< 3" in errors.query


def test_default_catalog_has_the_words_policies_use() -> None:
    specs = load_catalog(DEFAULT_CATALOG)
    assert [s.name for s in specs] == POLICY_WORDS + EXTRA_SIGNALS
    by_name = {s.name: s for s in specs}
    assert by_name["latency"].unit == "seconds"
    assert "http_server_request_duration_seconds_bucket" in by_name["latency"].query
    assert "histogram_quantile(0.99" in by_name["latency"].query
    assert by_name["availability"].direction == "down"
    assert 'up{job="services"}' in by_name["availability"].query
    assert 'status_code=~"5.."' in by_name["error_rate"].query
    assert 'probe_success{job="probes"}' in by_name["probe_success"].query
    assert by_name["probe_success"].on_missing == "ignore"  # no probes job: not a no_data
    assert "probe_http_status_code" in by_name["probe_unanswered"].query
    assert by_name["probe_unanswered"].on_missing == "ignore"
    assert "process_cpu_wait_seconds_total" in by_name["cpu_wait"].query
    assert by_name["cpu_wait"].on_missing == "ignore"  # an image without the metric: no outage
    for s in specs:
        assert "service" in s.query
        assert s.floor is not None


GOOD = """
metrics:
  - name: queue_depth
    query: sum by (service) (queue_depth)
    unit: items
    direction: up
    floor: 100
"""


def test_a_new_signal_needs_only_yaml() -> None:
    (spec,) = parse_catalog(GOOD, "x.yml")
    assert (spec.name, spec.unit, spec.direction, spec.floor) == ("queue_depth", "items", "up", 100)
    assert spec.on_missing == "no_data"
    assert spec.min_spread is None


def _entry(**fields: object) -> str:
    base: dict[str, object] = {
        "name": "m1",
        "query": "sum by (service) (x)",
        "unit": "u",
        "direction": "up",
        "floor": 1,
    }
    base.update(fields)
    lines = [f"    {k}: {v}" for k, v in base.items() if v is not None]
    return "metrics:\n  -\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "entry_name", "field", "words"),
    [
        (_entry(direction="sideways"), "m1", "direction", "one of up, down, both"),
        (_entry(floor="'high'"), "m1", "floor", "finite number"),
        (_entry(floor=".nan"), "m1", "floor", "finite number"),
        (_entry(query="''"), "m1", "query", "required"),
        (_entry(query="sum(x)"), "m1", "query", "service"),
        (_entry(name="Bad-Name"), "#1", "name", "lower-case"),
        (_entry(min_spread=-1), "m1", "min_spread", "positive"),
        (_entry(min_value="'zero'"), "m1", "min_value", "finite number"),
        (_entry(min_value=1, max_value=1), "m1", "max_value", "greater than min_value"),
        (_entry(on_missing="zero"), "m1", "on_missing", "no_data"),
        (_entry(colour="red"), "m1", "colour", "unknown field"),
        ("metrics: []\n", None, "metrics", "non-empty"),
        ("- just a list\n", None, "metrics", "mapping"),
        (
            _entry() + "  - name: m1\n    query: sum by (service) (y)\n    direction: up\n",
            "m1",
            "name",
            "duplicate",
        ),
    ],
)
def test_schema_errors_name_file_entry_and_field(
    text: str, entry_name: str | None, field: str, words: str
) -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "/etc/relia/catalog.yml")
    err = info.value
    assert err.file == "/etc/relia/catalog.yml"
    assert err.entry == entry_name
    assert err.field == field
    assert words in str(err)
    assert str(err).startswith("/etc/relia/catalog.yml")


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not valid YAML"):
        parse_catalog("metrics: [\n", "c.yml")
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.yml")


def test_process_refuses_to_start_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "catalog.yml"
    bad.write_text(_entry(direction="sideways"))
    monkeypatch.setenv("METRICS_CATALOG", str(bad))
    served: list[object] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda *a, **k: served.append(a))
    assert entry.main() == 2
    assert served == []  # never started serving
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "'m1'" in err
    assert "'direction'" in err
