"""The anomaly service as a real process on a real Prometheus, restarted on the same STATE_DIR:
the history and the open anomaly come back (same id, no second anomaly, no second `open`
event); operator feedback changes what the detector reports for that series, survives the
restart, and a reset takes it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anomaly_it_support import AlertReceiver, GaugeExporter, get, poll
from test_anomaly_service_prometheus import LEVEL, service_env, write_catalog

from tests.support.procs import Proc, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus
TOKEN = "it-history-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[GaugeExporter, AlertReceiver, PrometheusServer]]:
    exporter, receiver = GaugeExporter(10.0), AlertReceiver()
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="1s").start()
    try:
        prom.wait_for_targets_up(1, timeout_s=60)
        yield exporter, receiver, prom
    finally:
        prom.stop()
        receiver.stop()
        exporter.stop()


def level(url: str) -> dict[str, Any] | None:
    return next((dict(s) for s in get(url + "/predict")["series"] if s["metric"] == "level"), None)


def warm(url: str) -> dict[str, Any]:
    found: dict[str, Any] = poll(
        "a judged level series",
        lambda: (s := level(url)) is not None and not s["warming_up"] and s,
        90,
    )
    return found


def cycles(url: str, n: int) -> None:
    start = get(url + "/stats")["cycle"]
    poll(f"{n} more cycles", lambda: get(url + "/stats")["cycle"] >= start + n, 30)


def opens(receiver: AlertReceiver) -> list[str]:
    """Anomaly ids of every `open` (firing, first announcement) the receiver got."""
    seen: list[str] = []
    for p in receiver.payloads():
        alert = p["alerts"][0]
        if p["status"] == "firing" and alert["labels"]["anomaly_id"] not in seen:
            seen.append(alert["labels"]["anomaly_id"])
    return seen


def test_history_and_feedback_survive_a_restart_of_the_process(
    tmp_path: Path, parts: tuple[GaugeExporter, AlertReceiver, PrometheusServer]
) -> None:
    exporter, receiver, prom = parts
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL)
    env = service_env(
        prom.url,
        catalog,
        POLICY_ENGINE_URL=receiver.url,
        POLICY_ENGINE_TOKEN=TOKEN,
        STATE_DIR=str(tmp_path / "state"),
    )

    def start() -> Proc:
        return start_module("anomaly_service", tmp_path, env, timeout_s=60)

    svc = start()
    try:
        warm(svc.url)
        exporter.value = 30.0  # ~40 spreads above the baseline (min_spread 0.5)
        first = poll(
            "an open level anomaly",
            lambda: get(svc.url + "/anomalies?status=active")["items"],
            30,
        )[0]["id"]
    finally:
        svc.stop()
    svc = start()
    try:
        listed = get(svc.url + "/anomalies")["items"]
        assert [(a["id"], a["status"]) for a in listed] == [(first, "active")]
        cycle = get(svc.url + "/stats")["cycle"]
        poll(
            "5 cycles after the restart", lambda: get(svc.url + "/stats")["cycle"] >= cycle + 5, 30
        )
        listed = get(svc.url + "/anomalies")["items"]
        assert [(a["id"], a["status"]) for a in listed] == [(first, "active")]  # not duplicated
        assert opens(receiver) == [first]  # and not announced twice

        # noise: the thresholds of this series widen x1.5 (band 4 -> 6 spreads of 0.5)
        band = warm(svc.url)
        assert band["sensitivity"] == 1.0
        assert band["upper"] - band["baseline"] == pytest.approx(2.0, rel=0.05)
        r = httpx.post(
            f"{svc.url}/anomalies/{first}/feedback",
            json={"label": "noise", "reason": "load test", "mute_for_s": 600},
            headers=AUTH,
            timeout=5,
        )
        assert r.status_code == 201, r.text
        wide = poll(
            "the widened band in /predict",
            lambda: (s := level(svc.url)) and s["upper"] - s["baseline"] > 2.5 and s,
            15,
        )
        assert wide["upper"] - wide["baseline"] == pytest.approx(3.0, rel=0.05)
        assert wide["sensitivity"] == 1.5
        assert wide["muted_until"] is not None
        poll(  # muted: the open anomaly closes although the value is still 30
            "the muted anomaly to resolve",
            lambda: get(f"{svc.url}/anomalies/{first}")["status"] == "resolved",
            15,
        )
    finally:
        svc.stop()
    svc = start()
    try:
        cycle = get(svc.url + "/stats")["cycle"]
        poll(
            "5 cycles after the restart", lambda: get(svc.url + "/stats")["cycle"] >= cycle + 5, 30
        )
        s = warm(svc.url)
        assert s["sensitivity"] == 1.5
        assert s["muted_until"] is not None  # feedback survived
        assert get(svc.url + "/anomalies?status=active")["total"] == 0  # still muted at 30
        assert get(f"{svc.url}/anomalies/{first}")["feedback"] == "noise"
        signals = get(svc.url + "/feedback/precision")["signals"]
        assert signals == [
            {"service": "orders", "metric": "level", "confirmed": 0, "noise": 1, "precision": 0.0}
        ]
        # reset: the detector's own thresholds again, and the still-high value opens a new one
        r = httpx.delete(f"{svc.url}/sensitivity/{s['series_id']}", headers=AUTH, timeout=5)
        assert r.status_code == 200
        assert r.json()["factor"] == 1.0
        again = poll(
            "a new anomaly once the mute is lifted",
            lambda: get(svc.url + "/anomalies?status=active")["items"],
            30,
        )
        assert again[0]["id"] != first
        assert get(svc.url + "/anomalies")["total"] == 2
    finally:
        svc.stop()
