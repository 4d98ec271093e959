"""The pipeline's promises in memory: the record is `pending` before any side effect, one
transaction for dedupe key and record, start-up settles what a killed run left, one cooldown per
target across policies, min_replicas >= 1 unless allowed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pe_fakes import FakeActuator, FakeClock, alert, make_engine

from policy_engine.actuator.types import ActionOutcome, RestartParams
from policy_engine.engine import Engine
from policy_engine.models import ActionRecord, AMWebhook, Trigger
from policy_engine.policies import load_policies, validate_params
from policy_engine.store import Store

TWO = """
settings: {grace_period: 0, verification_window: 60s}
policies:
  - {name: orders_latency, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: orders, cooldown: 300}
  - {name: orders_errors, condition: "error_rate > 0.1 and severity >= warning",
     action: restart_container, service: orders, cooldown: 300}
"""


async def deliver(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    summary = engine.handle_webhook(AMWebhook.model_validate(body), engine.clock())
    await engine.drain(5.0)
    return summary


def restarts(engine: Engine) -> int:
    return sum(1 for kind, _ in engine.actuator.calls if kind == "restart")  # type: ignore[attr-defined]


def both(fingerprint: str = "fp") -> dict[str, Any]:
    """One incident seen on two signals: a latency and an error-rate alert in one delivery."""
    body = alert(fingerprint=f"{fingerprint}-l", anomaly_id=f"{fingerprint}-l")
    other = alert(metric="error_rate", value="0.4", fingerprint=f"{fingerprint}-e")
    other["alerts"][0]["labels"]["anomaly_id"] = f"{fingerprint}-e"
    body["alerts"].append(other["alerts"][0])
    return body


def test_two_policies_one_incident_restart_once_and_say_which_acted() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(TWO, clock=clock)
        summary = await deliver(engine, both())
        assert restarts(engine) == 1
        first, second = (engine.store.get_action(s["id"]) for s in summary["scheduled"])
        assert first is not None
        assert first.outcome == "succeeded"
        assert second is not None
        assert second.outcome == "skipped"
        assert second.reason == "target_cooldown"
        assert "'orders_latency'" in (second.detail or "")
        views = {p.name: engine.policy_view(p) for p in engine.policies.active.policies}  # type: ignore[union-attr]
        assert views["orders_errors"]["target_cooldown_remaining_s"] == 300
        assert views["orders_latency"]["target_cooldown_remaining_s"] == 0
        # 50 s later the error-rate alert comes again (a new notification): still once
        clock.advance(50)
        later = await deliver(engine, alert(metric="error_rate", value="0.5", fingerprint="fp-e2"))
        rec = engine.store.get_action(later["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason == "target_cooldown"
        assert restarts(engine) == 1
        # after the window the other policy may act
        clock.advance(300)
        late = await deliver(engine, alert(metric="error_rate", value="0.5", fingerprint="fp-e3"))
        rec = engine.store.get_action(late["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "succeeded"
        assert restarts(engine) == 2

    asyncio.run(go())


def test_target_cooldown_can_be_turned_off() -> None:
    async def go() -> None:
        engine = make_engine(
            TWO.replace("grace_period: 0,", "grace_period: 0, target_cooldown: false,")
        )
        await deliver(engine, both())
        clock: FakeClock = engine.clock  # type: ignore[assignment]
        clock.advance(50)
        await deliver(engine, alert(metric="error_rate", value="0.5", fingerprint="fp-e2"))
        assert restarts(engine) == 2

    asyncio.run(go())


class WatchingActuator(FakeActuator):
    """Records what the audit log held when Docker was called."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.store: Store | None = None
        self.seen: list[list[tuple[str, str]]] = []

    async def restart(self, params: RestartParams) -> ActionOutcome:
        assert self.store is not None
        items = self.store.list_actions()[0]
        self.seen.append([(r.outcome, r.target or "") for r in items])
        return await super().restart(params)


def test_the_record_is_pending_before_docker_is_called() -> None:
    async def go() -> None:
        clock = FakeClock()
        actuator = WatchingActuator(clock)
        engine = make_engine(TWO, clock=clock, actuator=actuator)
        actuator.store = engine.store
        summary = await deliver(engine, alert())
        assert actuator.seen == [[("pending", "relia-orders-1")]]
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "succeeded"

    asyncio.run(go())


def test_dedupe_key_and_records_commit_together() -> None:
    store = Store(Path(":memory:"))
    rec = ActionRecord(id="a1", created_at=1.0, policy="p", action="alert", service="s",
                       outcome="pending")  # fmt: skip
    assert store.accept([rec], "key-1", 1.0) is True
    again = rec.model_copy(update={"id": "a2"})
    assert store.accept([again], "key-1", 2.0) is False  # duplicate: nothing written
    assert [r.id for r in store.list_actions()[0]] == ["a1"]
    broken = rec.model_copy(update={"id": "a3"})
    with pytest.raises(AttributeError):
        store.accept([broken, "not a record"], "key-2", 3.0)  # type: ignore[list-item]
    # the failed transaction left neither the key nor the record
    assert store.first_delivery("key-2", 4.0) is True
    assert store.get_action("a3") is None


def pending(engine: Engine, action: str, created_at: float, **extra: Any) -> ActionRecord:
    record = ActionRecord(
        id=f"act-{action}-{created_at:.0f}",
        created_at=created_at,
        policy="orders_latency",
        action=action,
        service="orders",
        outcome="pending",
        trigger=Trigger(source="alert", anomaly_id="a-1", fingerprint="fp1"),
        **extra,
    )
    engine.store.save_action(record)
    return record


def settled(engine: Engine, record: ActionRecord) -> ActionRecord:
    got = engine.store.get_action(record.id)
    assert got is not None
    return got


def test_start_up_settles_pending_records_from_the_real_world() -> None:
    async def go() -> None:
        clock = FakeClock()
        store = Store(Path(":memory:"))
        actuator = FakeActuator(clock, replicas={"orders": 2})
        # relia-orders-1 started after the first record (the restart happened), not the second
        actuator.containers["orders"][0] = actuator._info("orders", 1, clock.now - 100)
        first = make_engine(TWO, clock=clock, store=store, actuator=actuator)
        done = pending(first, "restart_container", clock.now - 120, target="relia-orders-1")
        cut = pending(first, "restart_container", clock.now - 90, target="relia-orders-2")
        up = pending(first, "scale_up", clock.now - 80, params={"replicas_before": 1})
        down = pending(first, "scale_down", clock.now - 70, params={"replicas_before": 2})
        sent = pending(first, "alert", clock.now - 60)
        dry = pending(first, "restart_container", clock.now - 50, dry_run=True)
        engine = make_engine(TWO, clock=clock, store=store, actuator=actuator)  # the new process
        await engine.recover()
        assert settled(engine, done).outcome == "succeeded"
        assert settled(engine, done).verification == "pending"
        assert "restarted relia-orders-1" in (settled(engine, done).detail or "")
        assert settled(engine, cut).outcome == "interrupted"
        assert settled(engine, up).outcome == "succeeded"  # 2 replicas now, 1 before
        assert settled(engine, down).outcome == "interrupted"  # still 2
        assert settled(engine, sent).outcome == "interrupted"
        assert settled(engine, dry).outcome == "dry_run"
        assert store.pending_actions() == []
        assert restarts(engine) == 0
        # both kinds count: the policy is in cooldown and its budget holds the attempts
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason == "cooldown"
        assert restarts(engine) == 0
        times = store.attempt_times(0.0, service="orders")
        assert len(times) == 5

    asyncio.run(go())


def test_pending_records_wait_for_docker_to_answer() -> None:
    async def go() -> None:
        clock = FakeClock()
        store = Store(Path(":memory:"))
        actuator = FakeActuator(clock)
        first = make_engine(TWO, clock=clock, store=store, actuator=actuator)
        rec = pending(first, "restart_container", clock.now - 5)
        actuator.hang = True
        engine = make_engine(TWO, clock=clock, store=store, actuator=actuator)
        await engine.recover()  # list_targets times out: stays pending
        assert settled(engine, rec).outcome == "pending"
        actuator.hang = False
        await engine.cycle()
        await engine.drain(5.0)  # the cycle settles in a task of its own
        assert settled(engine, rec).outcome == "interrupted"

    asyncio.run(go())


SCALE = """
settings: {{allow_scale_to_zero: {allow}}}
policies:
  - {{name: down, condition: "cpu < 0.1", for: 1m, action: scale_down, service: orders,
     params: {{min_replicas: 0}}}}
"""


def test_min_replicas_zero_needs_the_file_to_allow_it() -> None:
    active, errors = load_policies(SCALE.format(allow="false"), "p.yml")
    assert active is None
    assert [(e.policy, e.field) for e in errors] == [("down", "params.min_replicas")]
    assert "allow_scale_to_zero" in errors[0].message
    active, errors = load_policies(SCALE.format(allow="true"), "p.yml")
    assert active is not None
    assert active.policies[0].params["min_replicas"] == 0
    _, errors = load_policies(SCALE.format(allow="maybe"), "p.yml")
    assert errors[0].field == "settings.allow_scale_to_zero"


def test_manual_min_replicas_zero_follows_the_same_setting() -> None:
    with pytest.raises(ValueError, match=r"params\.min_replicas: must be at least 1"):
        validate_params("scale_down", {"min_replicas": 0})
    assert validate_params("scale_down", {"min_replicas": 0}, True)["min_replicas"] == 0


SETTLING = """
settings: {grace_period: 45s, verification_window: 60s}
policies:
  - {name: orders_latency, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: orders, cooldown: 300}
  - {name: orders_no_data_alert, condition: "no_data", action: alert, service: orders,
     cooldown: 60}
"""


def no_data(fingerprint: str) -> dict[str, Any]:
    return alert(metric="cpu", severity="critical", kind="no_data", fingerprint=fingerprint,
                 anomaly_id=f"nd-{fingerprint}", value="nan")  # fmt: skip


def test_no_data_right_after_the_engines_own_restart_is_that_restarts_gap() -> None:
    """Restarting a service stops its scrapes for a few seconds: the no_data that follows is
    the restart's own doing, not an outage to page about; once the grace period is over the
    same no_data acts."""

    async def go() -> None:
        clock = FakeClock()
        clock.advance(3600)  # the fake containers are past their start-up grace
        engine = make_engine(SETTLING, clock=clock)
        await deliver(engine, alert())
        assert restarts(engine) == 1
        clock.advance(10)
        early = await deliver(engine, no_data("nd1"))
        rec = engine.store.get_action(early["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "skipped"
        assert rec.reason == "settling"
        assert "restart_container by 'orders_latency' 10 s ago" in (rec.detail or "")
        clock.advance(40)  # 50 s after the restart: the service should be back by now
        late = await deliver(engine, no_data("nd2"))
        rec = engine.store.get_action(late["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason != "settling"

    asyncio.run(go())


def test_no_data_without_a_recent_action_is_not_held() -> None:
    async def go() -> None:
        engine = make_engine(SETTLING)
        summary = await deliver(engine, no_data("nd1"))
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason != "settling"

    asyncio.run(go())
