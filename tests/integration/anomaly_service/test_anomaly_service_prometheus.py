"""The anomaly service as a real process against a real Prometheus scraping a test exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from anomaly_it_support import AlertReceiver, GaugeExporter, get, poll

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from tests.support.procs import Proc, free_port, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

LEVEL = {
    "name": "level",
    "query": 'max by (service) (relia_it_value{job="services"})',
    "unit": "widgets",
    "direction": "up",
    "floor": 50,
    "min_spread": 0.5,
}
AVAILABILITY = {
    "name": "availability",
    "query": 'avg by (service) (up{job="services"})',
    "unit": "ratio",
    "direction": "down",
    "floor": 0.99,
    "min_spread": 0.01,
}


def write_catalog(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"metrics": list(entries)}))
    return path


def service_env(prom_url: str, catalog: Path, **extra: str) -> dict[str, str]:
    return {
        "PROMETHEUS_URL": prom_url,
        "METRICS_CATALOG": str(catalog),
        "CHECK_INTERVAL": "1",
        "BACKFILL_WINDOW_S": "60",
        "BACKFILL_STEP_S": "1",
        "NO_DATA_CYCLES": "2",
        "EVENT_BACKOFF_INITIAL_S": "0.2",
        # Fewer warm-up points than the production default, so the test is not minutes long.
        "DETECTOR_CONFIG": json.dumps({"min_points": 10}),
        "EXTERNAL_URL": "http://anomaly-service.test:8080",
        **extra,
    }


@pytest.fixture
def exporter() -> Iterator[GaugeExporter]:
    server = GaugeExporter(10.0)
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    server = AlertReceiver()
    yield server
    server.stop()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: GaugeExporter) -> Iterator[PrometheusServer]:
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    server = PrometheusServer(tmp_path, [target], scrape_interval="1s").start()
    try:
        server.wait_for_targets_up(1, timeout_s=60)
        yield server
    finally:
        server.stop()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop()


def level_series(url: str) -> dict[str, Any] | None:
    for series in get(url + "/predict")["series"]:
        if series["metric"] == "level":
            return dict(series)
    return None


def alerts_for(receiver: AlertReceiver, status: str, kind: str) -> list[dict[str, Any]]:
    return [
        p
        for p in receiver.payloads()
        if p["status"] == status
        and p["alerts"][0]["labels"]["kind"] == kind
        and p["alerts"][0]["labels"]["metric"] == "level"
    ]


def test_value_change_opens_notifies_and_resolves_then_no_data(
    tmp_path: Path,
    exporter: GaugeExporter,
    receiver: AlertReceiver,
    prometheus: PrometheusServer,
    procs: list[Proc],
) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL, AVAILABILITY)
    env = service_env(
        prometheus.url, catalog, POLICY_ENGINE_URL=receiver.url, POLICY_ENGINE_TOKEN="it-token"
    )
    svc = start_module("anomaly_service", tmp_path, env, timeout_s=60)
    procs.append(svc)
    poll("/ready", lambda: httpx.get(svc.url + "/ready", timeout=5).status_code == 200, 60)
    poll(
        "a warmed-up level series",
        lambda: (s := level_series(svc.url)) is not None and not s["warming_up"],
        90,
    )
    assert get(svc.url + "/anomalies")["total"] == 0

    # A jump far above baseline AND above the 50 floor: critical within a few cycles.
    start_cycle = get(svc.url + "/stats")["cycle"]
    exporter.value = 100.0
    opened = poll(
        "an active level anomaly",
        lambda: get(svc.url + "/anomalies?metric=level&status=active")["items"],
        60,
        every_s=0.2,
    )
    cycles = get(svc.url + "/stats")["cycle"] - start_cycle
    assert cycles <= 12, f"took {cycles} cycles to open"
    anomaly = opened[0]
    assert anomaly["kind"] == "deviation"
    assert anomaly["service"] == "orders"
    poll(
        "critical severity",
        lambda: get(svc.url + f"/anomalies/{anomaly['id']}")["severity"] == "critical",
        30,
    )

    # The event reached the receiver, Alertmanager v4, with the bearer token.
    firing = poll("a firing event", lambda: alerts_for(receiver, "firing", "deviation"), 30)
    first = firing[0]
    assert first["version"] == "4"
    assert first["receiver"] == "relia-policy-engine"
    assert first["groupKey"] == f"relia:{anomaly['fingerprint']}"
    alert = first["alerts"][0]
    assert alert["labels"]["anomaly_id"] == anomaly["id"]
    assert alert["labels"]["alertname"] == "ReliaAnomaly"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"] == f"http://anomaly-service.test:8080/anomalies/{anomaly['id']}"
    assert float(alert["annotations"]["value"]) > 90
    assert any(p["alerts"][0]["labels"]["severity"] == "critical" for p in firing)
    assert all(auth == "Bearer it-token" for _, auth in receiver.received)

    # The value returns: the anomaly resolves and the resolve event arrives.
    exporter.value = 10.0
    resolved = poll("the resolve event", lambda: alerts_for(receiver, "resolved", "deviation"), 60)
    r_alert = resolved[0]["alerts"][0]
    assert r_alert["labels"]["anomaly_id"] == anomaly["id"]
    assert r_alert["fingerprint"] == anomaly["fingerprint"]
    assert r_alert["endsAt"] != "0001-01-01T00:00:00Z"
    detail = get(svc.url + f"/anomalies/{anomaly['id']}")
    assert detail["status"] == "resolved"
    assert detail["peak_severity"] == "critical"
    assert max(v for v in detail["evidence"]["values"] if v is not None) > 90

    # The exporter stops: the level series vanishes -> no_data, and the service shows it.
    exporter.stop()
    nodata = poll(
        "a no_data anomaly",
        lambda: get(svc.url + "/anomalies?metric=level&status=active")["items"],
        60,
    )
    assert nodata[0]["kind"] == "no_data"
    assert nodata[0]["severity"] == "critical"
    poll("a no_data event", lambda: alerts_for(receiver, "firing", "no_data"), 30)
    health = poll(
        "orders no_data in /services/health",
        lambda: [
            s
            for s in get(svc.url + "/services/health")["services"]
            if s["service"] == "orders" and s["status"] == "no_data"
        ],
        30,
    )
    assert health[0]["replicas_up"] == 0
    assert health[0]["replicas_total"] == 1
    metrics = httpx.get(svc.url + "/metrics", timeout=5).text
    assert 'relia_anomaly_event_deliveries_total{outcome="delivered"}' in metrics


def test_prometheus_down_is_not_ready_and_nothing_is_healthy(
    tmp_path: Path,
    prometheus: PrometheusServer,
    procs: list[Proc],
) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL, AVAILABILITY)
    svc = start_module(
        "anomaly_service", tmp_path, service_env(prometheus.url, catalog), timeout_s=60
    )
    procs.append(svc)
    poll("/ready", lambda: httpx.get(svc.url + "/ready", timeout=5).status_code == 200, 60)
    poll("orders listed", lambda: get(svc.url + "/services/health")["services"], 30)
    prometheus.stop()
    poll("/ready 503", lambda: httpx.get(svc.url + "/ready", timeout=5).status_code == 503, 60)
    ready = get(svc.url + "/ready")
    assert ready["ready"] is False
    assert ready["reasons"]
    health = get(svc.url + "/services/health")
    assert health["ready"] is False
    assert health["stale"] is True
    assert health["services"]
    assert all(s["status"] == "unknown" for s in health["services"])
    predict = get(svc.url + "/predict")
    assert predict["ready"] is False
    assert predict["stale"] is True
    assert get(svc.url + "/stats")["prometheus"]["reachable"] is False


def test_never_reached_prometheus_is_not_ready(tmp_path: Path, procs: list[Proc]) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    svc = start_module("anomaly_service", tmp_path, service_env(dead, catalog), timeout_s=60)
    procs.append(svc)
    poll("a cycle", lambda: get(svc.url + "/stats")["cycle"] >= 2, 30)
    response = httpx.get(svc.url + "/ready", timeout=5)
    assert response.status_code == 503
    assert get(svc.url + "/services/health")["services"] == []
    assert get(svc.url + "/predict")["ready"] is False


def test_bad_catalog_schema_refuses_to_start(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", {**LEVEL, "direction": "sideways"})
    env = {
        **os.environ,
        **service_env("http://127.0.0.1:9", catalog),
        "PORT": str(free_port()),
        "HOST": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "anomaly_service"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert str(catalog) in done.stderr
    assert "'level'" in done.stderr
    assert "'direction'" in done.stderr
    assert "one of up, down, both" in done.stderr


def test_bad_promql_is_reported_per_metric_while_others_work(
    tmp_path: Path,
    prometheus: PrometheusServer,
    procs: list[Proc],
) -> None:
    broken = {**LEVEL, "name": "broken", "query": "max by (service) (relia_it_value{job=}"}
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL, broken)
    svc = start_module(
        "anomaly_service", tmp_path, service_env(prometheus.url, catalog), timeout_s=60
    )
    procs.append(svc)
    models = poll(
        "broken metric's error",
        lambda: (
            (m := get(svc.url + "/models"))
            and {c["name"]: c for c in m["catalog"]}["broken"]["error"]
            and m
        ),
        30,
    )
    by_name = {c["name"]: c for c in models["catalog"]}
    assert models["detector"]["min_points"] == 10  # DETECTOR_CONFIG reached the core
    # Prometheus' own reason, verbatim.
    assert "parse error" in by_name["broken"]["error"]
    poll("level series", lambda: level_series(svc.url), 30)
    assert by_name["level"]["error"] is None
    ready = httpx.get(svc.url + "/ready", timeout=5)
    assert ready.status_code == 200
    assert "parse error" in ready.json()["metric_errors"]["broken"]
    assert "broken" in get(svc.url + "/stats")["metric_errors"]


def test_default_catalog_is_valid_promql(prometheus: PrometheusServer) -> None:
    for spec in load_catalog(DEFAULT_CATALOG):
        response = httpx.get(
            prometheus.url + "/api/v1/query", params={"query": spec.query}, timeout=10
        )
        assert response.status_code == 200, (spec.name, response.text)
        assert response.json()["data"]["resultType"] == "vector", spec.name
