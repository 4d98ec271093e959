"""A victim is left alone: the anomaly service's `caused_by` (alert annotation or /predict row)
makes `not caused_by_dependency` false, so the victim's restart policy does not act; its own
fault still acts."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from pe_fakes import FakeSnapshots, alert, make_engine, scheduled_for, series

from policy_engine.events import to_event
from policy_engine.models import AMAlert, AMWebhook
from policy_engine.snapshot import Snapshot, parse_predict

LEAVE_VICTIMS = """
policies:
  - name: orders_errors
    condition: "error_rate > 0.1 and severity >= warning and not caused_by_dependency"
    action: restart_container
    service: orders
    cooldown: 300
"""


def errors_alert(fingerprint: str, caused_by: str | None) -> dict[str, Any]:
    body = alert(metric="error_rate", value="0.6", severity="critical", fingerprint=fingerprint)
    if caused_by is not None:
        body["alerts"][0]["annotations"]["caused_by"] = caused_by
    return body


def scheduled(caused_by: str | None, predict_blames: tuple[str, ...] = ()) -> int:
    row = series("orders", "error_rate", 0.6, "critical", anomaly_id="a-1")
    row = dataclasses.replace(row, caused_by=predict_blames)
    return scheduled_for(LEAVE_VICTIMS, row, errors_alert("fp-rc", caused_by))


def test_a_victim_by_its_alert_is_left_alone() -> None:
    assert scheduled(caused_by="payments") == 0


def test_a_victim_by_its_snapshot_is_left_alone() -> None:
    assert scheduled(caused_by=None, predict_blames=("payments",)) == 0


def test_the_same_errors_of_its_own_are_remediated() -> None:
    assert scheduled(caused_by=None) == 1
    assert scheduled(caused_by="") == 1  # an empty annotation blames nobody


def test_caused_by_is_read_from_alerts_and_predict() -> None:
    payload = AMAlert.model_validate(errors_alert("fp", "payments, users")["alerts"][0])
    assert to_event(payload).caused_by == ("payments", "users")
    snap = parse_predict(
        {
            "series": [
                {"service": "orders", "metric": "error_rate", "value": 0.6,
                 "severity": "critical", "caused_by": ["payments"]},
                {"service": "orders", "metric": "cpu", "value": 0.1, "caused_by": "junk"},
                {"service": "users", "metric": "error_rate", "value": 0.0},
            ]
        },
        1.0,
    )  # fmt: skip
    assert [s.caused_by for s in snap.series] == [("payments",), (), ()]
    assert snap.context("orders").caused_by_dependency is True
    assert snap.context("users").caused_by_dependency is False
    assert Snapshot(1.0, ()).context("orders").caused_by_dependency is False


def plan_of(engine: Any, service: str = "orders") -> dict[str, Any]:
    from policy_engine.plan import plan

    return plan(engine, service, engine.clock())


def test_plan_says_who_will_act_who_is_blocked_and_why() -> None:
    async def go() -> None:
        engine = make_engine(LEAVE_VICTIMS)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        assert plan_of(engine)["policies"][0]["verdict"].startswith("unknown")  # no snapshot
        snaps.set(series("orders", "error_rate", 0.6, "critical", anomaly_id="a-1"))
        await engine.cycle()
        before = plan_of(engine)
        (row,) = before["policies"]
        assert row["condition_holds"] is True
        assert row["would_act"] is True
        assert (
            before["summary"]
            == "orders_errors (restart_container): will act on the next alert or re-check"
        )
        assert engine.store.list_actions(limit=10)[1] == 0  # planning wrote nothing
        # It acts; then the plan says the cooldown holds the next one back.
        body = errors_alert("fp-plan", None)
        engine.handle_webhook(AMWebhook.model_validate(body), engine.clock())
        await engine.drain(5.0)
        after = plan_of(engine)
        assert after["policies"][0]["verdict"] == "blocked: cooldown", after
        assert "none will act now" in after["summary"]
        engine.set_enabled(False)
        assert plan_of(engine)["summary"].startswith("paused")

    asyncio.run(go())


def test_plan_says_a_victim_waits_for_its_culprit() -> None:
    async def go() -> None:
        engine = make_engine(LEAVE_VICTIMS)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        row = series("orders", "error_rate", 0.6, "critical", anomaly_id="a-1")
        snaps.set(dataclasses.replace(row, caused_by=("payments",)))
        await engine.cycle()
        planned = plan_of(engine)
        assert planned["policies"][0]["verdict"] == "waits: orders is a victim of payments"
        assert planned["summary"] == (
            "none will act now: orders_errors waits: orders is a victim of payments"
        )
        assert plan_of(engine, "nobody")["summary"] == "no enabled policy for nobody"

    asyncio.run(go())
