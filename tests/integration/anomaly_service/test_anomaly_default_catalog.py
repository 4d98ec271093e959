"""The shipped catalog against a real demo service: every policy word yields a series, and an
injected error fault becomes a critical error_rate anomaly (no metric-name drift, SPEC 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anomaly_it_support import Load, get, poll, watched

from tests.support.procs import Proc, start_module
from tests.support.prometheus import ScrapeTarget

pytestmark = pytest.mark.prometheus

WORDS = {"latency", "error_rate", "cpu", "memory", "request_rate", "availability"}


@pytest.fixture
def users(tmp_path: Path) -> Iterator[Proc]:
    env = {
        "CHAOS_ENABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    }
    proc = start_module("services.users", tmp_path, env=env, timeout_s=60)
    yield proc
    proc.stop()


def signals(url: str, service: str) -> dict[str, dict[str, Any]]:
    return {s["metric"]: s for s in get(url + "/predict")["series"] if s["service"] == service}


def test_default_catalog_on_a_real_service(tmp_path: Path, users: Proc) -> None:
    target = ScrapeTarget("services", f"127.0.0.1:{users.port}", {"service": "users"})
    with watched(tmp_path, [target]) as (_, receiver, svc), Load([users.url + "/users"]):
        seen = poll(
            "all six signals and cpu_wait with values, warmed up",
            lambda: (
                (s := signals(svc.url, "users"))
                and set(s) == WORDS | {"cpu_wait"}
                and all(x["value"] is not None and not x["warming_up"] for x in s.values())
                and s
            ),
            120,
        )
        assert seen["availability"]["value"] == 1.0
        assert seen["request_rate"]["value"] > 1.0
        assert 0.0 < seen["latency"]["value"] < 0.5
        assert seen["error_rate"]["value"] == 0.0
        assert seen["memory"]["value"] > 10e6
        assert seen["cpu"]["value"] >= 0.0
        # the real run-queue delay of the real process, a share of one second
        assert 0.0 <= seen["cpu_wait"]["value"] < 1.0
        models = get(svc.url + "/models")
        assert all(m["error"] is None for m in models["catalog"]), models["catalog"]
        health = get(svc.url + "/services/health")["services"]
        assert [(h["service"], h["replicas_up"], h["replicas_total"]) for h in health] == [
            ("users", 1, 1)
        ]

        # Every request fails: error_rate jumps past its 0.05 floor -> critical.
        fault = httpx.post(users.url + "/chaos", json={"kind": "errors", "rate": 1.0}, timeout=5)
        assert fault.status_code == 201, fault.text
        opened = poll(
            "a critical error_rate anomaly",
            lambda: [
                a
                for a in get(svc.url + "/anomalies?metric=error_rate&status=active")["items"]
                if a["severity"] == "critical"
            ],
            90,
        )
        # Opened while the 15 s window ramps up: past the floor, not yet at 1.0.
        assert opened[0]["service"] == "users"
        assert opened[0]["value"] > 0.05
        poll(
            "its firing event",
            lambda: [
                p
                for p in receiver.payloads()
                if p["status"] == "firing" and p["alerts"][0]["labels"]["metric"] == "error_rate"
            ],
            30,
        )
        httpx.delete(users.url + "/chaos", timeout=5)
        poll(
            "error_rate resolved",
            lambda: get(svc.url + f"/anomalies/{opened[0]['id']}")["status"] == "resolved",
            90,
        )
