"""Load is not a restart case: `not caused_by_load` holds a restart policy back when the
anomaly service says the trouble started with the service's traffic above its band (alert
annotation or /predict row); the same latency under usual traffic is remediated."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from pe_fakes import alert, engine_seeing, scheduled_for, series

from policy_engine.events import to_event
from policy_engine.models import AMAlert
from policy_engine.plan import plan
from policy_engine.snapshot import parse_predict

LEAVE_LOAD = """
policies:
  - name: orders_latency
    condition: "latency > 0.5 and severity >= warning and not caused_by_load"
    action: restart_container
    service: orders
    cooldown: 300
"""


def latency_alert(load: str | None) -> dict[str, Any]:
    body = alert(value="4.9", severity="critical", fingerprint="fp-load")
    if load is not None:
        body["alerts"][0]["annotations"]["caused_by_load"] = load
    return body


def scheduled(load_annotation: str | None, load_row: bool = False) -> int:
    row = series("orders", "latency", 4.9, "critical", anomaly_id="a-1")
    row = dataclasses.replace(row, caused_by_load=load_row)
    return scheduled_for(LEAVE_LOAD, row, latency_alert(load_annotation))


def test_load_by_its_alert_or_its_snapshot_is_not_restarted() -> None:
    assert scheduled("true") == 0
    assert scheduled(None, load_row=True) == 0


def test_the_same_latency_under_usual_traffic_is_remediated() -> None:
    assert scheduled(None) == 1
    assert scheduled("false") == 1
    assert scheduled("junk") == 1  # only "true" says load


def test_caused_by_load_is_read_from_alerts_and_predict() -> None:
    payload = AMAlert.model_validate(latency_alert("TRUE")["alerts"][0])
    assert to_event(payload).caused_by_load is True
    snap = parse_predict(
        {
            "series": [
                {"service": "orders", "metric": "latency", "value": 4.9,
                 "severity": "critical", "caused_by_load": True},
                {"service": "users", "metric": "latency", "value": 0.9,
                 "severity": "critical", "caused_by_load": "yes"},
            ]
        },
        1.0,
    )  # fmt: skip
    assert snap.context("orders").caused_by_load is True
    assert snap.context("users").caused_by_load is False  # not a JSON true


def test_plan_says_load_holds_the_restart_back() -> None:
    async def go() -> None:
        row = series("orders", "latency", 4.9, "critical", anomaly_id="a-1")
        engine = await engine_seeing(LEAVE_LOAD, dataclasses.replace(row, caused_by_load=True))
        verdict = plan(engine, "orders", engine.clock())["policies"][0]["verdict"]
        assert (
            verdict == "waits: orders is under load (its trouble started with traffic above normal)"
        )

    asyncio.run(go())
