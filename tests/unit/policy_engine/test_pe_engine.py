"""The engine end to end in memory: triggers, guards, dedupe, verification, breaker, toggle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pe_fakes import (
    FakeActuator,
    FakeClock,
    FakeNotifier,
    FakeSnapshots,
    alert,
    make_engine,
    series,
)

from policy_engine.engine import Engine
from policy_engine.guards import BreakerState
from policy_engine.models import AMWebhook, Trigger
from policy_engine.store import Store

T = TypeVar("T")

RESTART = """
settings: {verification_window: 60s, grace_period: 30s, breaker: {failures: 2, open_for: 10m}}
policies:
  - name: orders_latency
    condition: "latency > 0.5 and severity >= warning"
    action: restart_container
    service: orders
    cooldown: 300
"""


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


async def deliver(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    """POST /alerts without HTTP, then wait for the actions it scheduled."""
    summary = engine.handle_webhook(AMWebhook.model_validate(body), engine.clock())
    await engine.drain(5.0)
    return summary


def restarts(engine: Engine) -> int:
    return sum(1 for kind, _ in engine.actuator.calls if kind == "restart")  # type: ignore[attr-defined]


def records(engine: Engine, **filters: Any) -> list[Any]:
    return engine.store.list_actions(**filters, limit=500)[0]


def test_firing_alert_acts_and_resolve_verifies() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        summary = await deliver(engine, alert())
        assert len(summary["scheduled"]) == 1
        assert restarts(engine) == 1
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "succeeded"
        assert rec.verification == "pending"
        assert rec.target == "relia-orders-1"
        assert rec.trigger.anomaly_id == "a-1"
        assert rec.trigger.value == 0.9
        assert rec.policy_version == engine.policies.active.version  # type: ignore[union-attr]
        await deliver(engine, alert("resolved"))
        rec = engine.store.get_action(rec.id)
        assert rec is not None
        assert rec.verification == "succeeded"
        assert rec.verified_at is not None

    run(go)


def test_duplicate_delivery_is_idempotent_even_after_restart_of_engine() -> None:
    async def go() -> None:
        store = Store(Path(":memory:"))
        engine = make_engine(RESTART, store=store)
        await deliver(engine, alert())
        again = await deliver(engine, alert())
        assert again["duplicates"] == 1
        assert again["scheduled"] == []
        # a new engine process on the same store still knows the delivery
        engine2 = make_engine(RESTART, store=store)
        third = await deliver(engine2, alert())
        assert third["duplicates"] == 1
        assert restarts(engine) == 1
        assert restarts(engine2) == 0
        assert len(records(engine)) == 1

    run(go)


def test_resolved_notifications_never_act() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        summary = await deliver(engine, alert("resolved", value="5.0", severity="critical"))
        assert summary["resolved"] == 1
        assert summary["scheduled"] == []
        assert engine.actuator.calls == []
        assert records(engine) == []  # type: ignore[attr-defined]

    run(go)


def test_non_matching_events_are_ignored() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        low = await deliver(engine, alert(value="0.2", fingerprint="f2"))  # below threshold
        other = await deliver(engine, alert(metric="cpu", value="9", fingerprint="f3"))
        svc = await deliver(engine, alert(service="users", fingerprint="f4"))
        info = await deliver(engine, alert(severity="info", fingerprint="f5"))
        nan = await deliver(engine, alert(value="NaN", fingerprint="f6"))
        for s in (low, other, svc, info, nan):
            assert s["ignored"] == 1
            assert s["scheduled"] == []
        assert low["notes"] == [
            "alert 0: no enabled event policy for orders matched (latency, warning)"
        ]
        assert restarts(engine) == 0

    run(go)


def test_escalation_resend_is_not_a_duplicate_but_cooldown_holds() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        await deliver(engine, alert())
        again = await deliver(engine, alert(severity="critical"))
        assert again["duplicates"] == 0
        assert len(again["scheduled"]) == 1
        rec = engine.store.get_action(again["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "skipped"
        assert rec.reason == "cooldown"
        assert restarts(engine) == 1

    run(go)


def test_cooldown_expires() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(RESTART, clock=clock)
        await deliver(engine, alert(fingerprint="f1"))
        clock.advance(299)
        await deliver(engine, alert(fingerprint="f2", starts_at="b"))
        clock.advance(2)
        await deliver(engine, alert(fingerprint="f3", starts_at="c"))
        outcomes = [r.outcome for r in reversed(records(engine))]
        assert outcomes == ["succeeded", "skipped", "succeeded"]
        view = engine.policy_view(engine.policies.active.policies[0])  # type: ignore[union-attr]
        assert view["cooldown_remaining_s"] == 300

    run(go)


def test_policy_and_service_budgets() -> None:
    text = """
settings: {budgets: {per_service: {max: 3, window: 1h}, global: null}}
policies:
  - {name: a, condition: "latency > 0.5", action: restart_container, service: orders,
     cooldown: 0, budget: {max: 2, window: 1h}}
  - {name: b, condition: "error_rate > 0.1", action: restart_container, service: orders,
     cooldown: 0}
"""

    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(text, clock=clock)
        for i in range(3):
            clock.advance(60)
            await deliver(engine, alert(fingerprint=f"l{i}"))
        assert [r.reason for r in reversed(records(engine, policy="a"))] == [None, None, "budget"]
        for i in range(2):
            clock.advance(60)
            await deliver(engine, alert(metric="error_rate", value="0.5", fingerprint=f"e{i}"))
        b = list(reversed(records(engine, policy="b")))
        assert [r.outcome for r in b] == ["succeeded", "skipped"]
        assert "service budget used: 3/3" in (b[1].detail or "")
        # the window slides: an hour later the policy may act again
        clock.advance(3600)
        await deliver(engine, alert(fingerprint="later"))
        assert records(engine, policy="a")[0].outcome == "succeeded"

    run(go)


def test_pause_skips_and_toggle_is_persisted_and_audited() -> None:
    async def go() -> None:
        store = Store(Path(":memory:"))
        engine = make_engine(RESTART, store=store)
        assert engine.enabled is True
        assert engine.set_enabled(None) is False  # no body flips
        assert engine.set_enabled(False) is False  # explicit set is idempotent
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "skipped"
        assert rec.reason == "paused"
        assert restarts(engine) == 0
        toggles = records(engine, action="toggle")
        assert [t.params["enabled"] for t in reversed(toggles)] == [False, False]
        # a restarted engine on the same store keeps the pause, whatever the env default says
        engine2 = make_engine(RESTART, store=store, auto_remediation_enabled=True)
        assert engine2.enabled is False
        assert engine2.set_enabled(None) is True
        assert engine2.metrics.enabled._value.get() == 1

    run(go)


def test_grace_period_protects_young_containers() -> None:
    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock)
        actuator.containers["orders"][0] = actuator._info("orders", 1, clock.now - 10)
        engine = make_engine(RESTART, clock=clock, actuator=actuator)
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason == "grace"
        assert "20 s of grace left" in (rec.detail or "")
        assert restarts(engine) == 0

    run(go)


def test_dry_run_global_and_per_policy() -> None:
    async def go() -> None:
        engine = make_engine(RESTART, dry_run=True)
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "dry_run"
        assert rec.dry_run
        assert "would restart relia-orders-1" in (rec.detail or "")
        assert restarts(engine) == 0
        # dry-run starts the cooldown, so it shows the cadence the real thing would have
        again = await deliver(engine, alert(fingerprint="f9"))
        rec2 = engine.store.get_action(again["scheduled"][0]["id"])
        assert rec2 is not None
        assert rec2.reason == "cooldown"

        per_policy = make_engine(
            RESTART.replace("cooldown: 300", "cooldown: 300\n    dry_run: true")
        )
        s = await deliver(per_policy, alert())
        rec3 = per_policy.store.get_action(s["scheduled"][0]["id"])
        assert rec3 is not None
        assert rec3.outcome == "dry_run"
        assert restarts(per_policy) == 0

    run(go)


def test_failed_action_sets_no_cooldown_and_counts_for_breaker() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(RESTART, clock=clock)
        engine.actuator.status = "failed"  # type: ignore[attr-defined]
        first = await deliver(engine, alert(fingerprint="f1"))
        rec = engine.store.get_action(first["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "failed"
        assert rec.verification == "failed"
        assert rec.error == "boom"
        assert engine.store.breaker("orders").failures == 1
        clock.advance(1)
        second = await deliver(engine, alert(fingerprint="f2"))  # no cooldown after a failure
        assert engine.store.get_action(second["scheduled"][0]["id"]).outcome == "failed"  # type: ignore[union-attr]
        # two failures (failures: 2) opened the breaker and escalated through the alert webhook
        assert engine.store.breaker("orders").state == "open"
        escalation = records(engine, policy="breaker")
        assert len(escalation) == 1
        assert escalation[0].action == "alert"
        # no webhook URL configured: not attempted, and the record says why
        assert (escalation[0].outcome, escalation[0].reason) == ("skipped", "no_webhook")
        assert "no receiver configured" in (escalation[0].detail or "")
        clock.advance(1)
        third = await deliver(engine, alert(fingerprint="f3"))
        rec3 = engine.store.get_action(third["scheduled"][0]["id"])
        assert rec3 is not None
        assert rec3.reason == "breaker_open"
        assert restarts(engine) == 2

    run(go)


def test_verification_ineffective_then_breaker_half_open_trial_closes() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(RESTART, clock=clock, alert_webhook_url="http://127.0.0.1:9/hook")
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        for i in range(2):
            clock.advance(400)
            aid = f"a-{i}"
            snaps.set(series("orders", "latency", 0.9, "warning", "deviation", aid))
            await deliver(engine, alert(fingerprint=f"f{i}", anomaly_id=aid))
            clock.advance(30)
            await engine.cycle()
            assert records(engine, policy="orders_latency")[0].verification == "pending"
            clock.advance(31)  # past the 60 s window, still abnormal
            await engine.cycle()
            await engine.drain(5.0)
            assert records(engine, policy="orders_latency")[0].verification == "ineffective"
        assert engine.store.breaker("orders").state == "open"
        notifier: FakeNotifier = engine.notifier  # type: ignore[assignment]
        assert len(notifier.sent) == 1
        assert "circuit breaker opened" in notifier.sent[0][1]["message"]
        assert engine.breaker_view("orders")["state"] == "open"
        clock.advance(601)  # open_for 10m -> half-open: one trial
        assert engine.breaker_view("orders")["state"] == "half_open"
        snaps.set(series("orders", "latency", 0.9, "warning", "deviation", "a-9"))
        await deliver(engine, alert(fingerprint="f9", anomaly_id="a-9"))
        assert restarts(engine) == 3
        snaps.set(series("orders", "latency", 0.02))  # recovered
        clock.advance(61)
        await engine.cycle()
        assert records(engine, policy="orders_latency")[0].verification == "succeeded"
        assert engine.breaker_view("orders")["state"] == "closed"

    run(go)


def test_hung_docker_call_times_out_without_stalling_the_loop() -> None:
    async def go() -> None:
        engine = make_engine(RESTART, docker_timeout_s=0.2, action_timeout_s=0.3)
        engine.actuator.hang = True  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        started = loop.time()
        summary = engine.handle_webhook(AMWebhook.model_validate(alert()), engine.clock())
        assert loop.time() - started < 0.1  # the webhook answer does not wait for Docker
        started = loop.time()
        await engine.cycle()  # the control loop does not wait for the (hung) daemon
        assert loop.time() - started < 0.15
        await engine.drain(5.0)
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "failed"
        assert rec.reason == "docker_unavailable"
        assert "timed out" in (rec.error or "")
        assert engine.docker_reachable is False  # the hung ping timed out in the background

    run(go)


SCALE = """
settings: {grace_period: 0}
policies:
  - {name: up, condition: "cpu > 0.7", for: 20s, action: scale_up, service: orders,
     cooldown: 60, params: {min_replicas: 1, max_replicas: 3}}
  - {name: down, condition: "cpu < 0.2", for: 60s, action: scale_down, service: orders,
     cooldown: 60, params: {min_replicas: 1, max_replicas: 3}}
"""


def test_for_condition_must_hold_for_the_whole_duration() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(SCALE, clock=clock)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "cpu", 0.9, "warning"))
        # an event alone does not fire a `for` policy
        assert (await deliver(engine, alert(metric="cpu", value="0.9")))["scheduled"] == []
        await engine.cycle()
        clock.advance(10)
        await engine.cycle()
        snaps.set(series("orders", "cpu", 0.5))  # dips: the clock starts over
        await engine.cycle()
        snaps.set(series("orders", "cpu", 0.9))
        for _ in range(2):
            clock.advance(10)
            await engine.cycle()
        assert records(engine) == []
        clock.advance(11)
        await engine.cycle()
        await engine.drain(5.0)
        (rec,) = records(engine)
        assert rec.action == "scale_up"
        assert rec.outcome == "succeeded"
        assert rec.trigger.source == "snapshot"
        assert rec.params["replicas_after"] == 2
        assert len(engine.actuator.containers["orders"]) == 2  # type: ignore[attr-defined]

    run(go)


def test_scale_down_when_low_for_a_while_and_silent_at_min() -> None:
    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock, {"orders": 2})
        engine = make_engine(SCALE, clock=clock, actuator=actuator)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "cpu", 0.05))
        for _ in range(8):  # 0..70 s of low CPU
            await engine.cycle()
            await engine.drain(5.0)
            clock.advance(10)
        (rec,) = records(engine)
        assert rec.action == "scale_down"
        assert rec.outcome == "succeeded"
        assert len(actuator.containers["orders"]) == 1
        # at min replicas a sustained low CPU is not logged as anything
        for _ in range(20):
            await engine.cycle()
            await engine.drain(5.0)
            clock.advance(10)
        assert len(records(engine)) == 1
        # verified: still quiet after the window, so scaling down did no harm
        assert records(engine)[0].verification == "succeeded"

    run(go)


def test_quiet_at_min_replicas_during_the_scale_down_cooldown_writes_nothing() -> None:
    """After a scale-down to the minimum, low CPU keeps holding: that is no remediation, so
    the cooldown that blocks it is no audit row ("scale_down skipped (cooldown)")."""

    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock, {"orders": 2})
        down = "action: scale_down, service: orders,\n     cooldown: 60"
        text = SCALE.replace(down, down + "0")
        assert "cooldown: 600" in text
        engine = make_engine(text, clock=clock, actuator=actuator)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "cpu", 0.05))
        for _ in range(30):  # 300 s of low CPU: one scale-down, then quiet at 1 replica
            await engine.cycle()
            await engine.drain(5.0)
            clock.advance(10)
        assert [(r.action, r.outcome) for r in records(engine)] == [("scale_down", "succeeded")]
        # with 2 replicas again, the same cooldown is a real skip and is audited
        actuator.containers["orders"].append(actuator._info("orders", 2, clock.now - 600))
        for _ in range(7):
            await engine.cycle()
            await engine.drain(5.0)
            clock.advance(10)
        latest = records(engine)[0]
        assert (latest.outcome, latest.reason) == ("skipped", "cooldown")

    run(go)


def test_no_data_restarts_only_stopped_replicas_and_alerts() -> None:
    text = """
policies:
  - {name: nd_restart, condition: no_data, action: restart_container, service: orders,
     params: {only_not_running: true}}
  - {name: nd_alert, condition: no_data, action: alert, service: orders,
     params: {url: "http://127.0.0.1:9/hook", message: orders down}}
"""

    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock, {"orders": 2})
        actuator.containers["orders"][1] = actuator._info("orders", 2, clock.now - 900, "exited")
        engine = make_engine(text, clock=clock, actuator=actuator)
        summary = await deliver(
            engine, alert(metric="availability", kind="no_data", severity="critical", value="")
        )
        assert len(summary["scheduled"]) == 2
        restart = records(engine, policy="nd_restart")[0]
        assert restart.outcome == "succeeded"
        assert restart.target == "relia-orders-2"
        calls = [p for kind, p in actuator.calls if kind == "restart"]
        assert [c.container for c in calls] == ["relia-orders-2"]
        sent = engine.notifier.sent  # type: ignore[attr-defined]
        assert sent[0][0] == "http://127.0.0.1:9/hook"
        assert sent[0][1]["message"] == "orders down"
        assert records(engine, policy="nd_alert")[0].outcome == "succeeded"

    run(go)


def test_alertmanager_alert_without_metric_label_is_mapped() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        body = alert(severity="page", value="1.2")
        labels = body["alerts"][0]["labels"]
        for key in ("metric", "kind", "anomaly_id"):
            del labels[key]
        labels["alertname"] = "OrdersHighLatency"
        summary = await deliver(engine, body)
        assert len(summary["scheduled"]) == 1
        rec = records(engine)[0]
        assert rec.trigger.metric == "latency"
        assert rec.trigger.severity == "critical"

    run(go)


def test_manual_action_uses_the_same_guards() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        rec = await engine.manual(
            "scale_up", "orders", {"step": 1, "min_replicas": 1, "max_replicas": 3}, "load test"
        )
        assert rec.outcome == "succeeded"
        assert rec.manual
        assert rec.verification == "not_applicable"
        again = await engine.manual("scale_up", "orders", {"max_replicas": 3}, "again")
        assert again.reason == "cooldown"  # manual cooldown (60 s default)
        engine.set_enabled(False)
        paused = await engine.manual("restart_container", "orders", {}, "x")
        assert paused.reason == "paused"
        none = await engine.manual("restart_container", "ghost", {}, "x")
        assert none.reason == "paused"
        engine.set_enabled(True)
        ghost = await engine.manual("restart_container", "ghost", {}, "x")
        assert ghost.reason == "no_targets"

    run(go)


def test_invalid_edit_keeps_last_good_and_reports() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        version = engine.policies.active.version  # type: ignore[union-attr]
        engine.apply(RESTART.replace("restart_container", "nuke").encode())
        assert not engine.policies.valid
        assert engine.policies.active is not None
        assert engine.policies.active.version == version
        assert engine.policies.errors[0].field == "action"
        assert engine.metrics.policies_valid._value.get() == 0
        await deliver(engine, alert())  # the old set still acts
        assert restarts(engine) == 1

    run(go)


def test_last_good_set_survives_a_restart_with_a_broken_file(tmp_path: Path) -> None:
    store = Store(Path(":memory:"))
    engine = make_engine(RESTART, store=store)
    good = engine.policies.active
    broken = tmp_path / "p.yml"
    broken.write_text("policies: [")
    engine2 = Engine(
        engine.settings.model_copy(update={"policies_file": broken}),
        store,
        engine.actuator,
        engine.snapshots,
        engine.notifier,
        engine.metrics,
    )
    engine2.start()
    assert not engine2.policies.valid
    assert engine2.policies.from_store
    assert engine2.policies.active is not None
    assert good is not None
    assert engine2.policies.active.version == good.version


def test_trigger_model_round_trip() -> None:
    t = Trigger(anomaly_id="a", value=1.0, source="snapshot")
    assert Trigger.model_validate_json(t.model_dump_json()) == t


def test_alert_without_value_uses_the_snapshot_value() -> None:
    async def go() -> None:
        engine = make_engine(RESTART)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        body = alert(fingerprint="nv1")
        del body["alerts"][0]["annotations"]["value"]
        snaps.set(series("orders", "latency", 0.1))
        await engine.cycle()
        assert (await deliver(engine, body))["ignored"] == 1
        snaps.set(series("orders", "latency", 0.9, "warning"))
        await engine.cycle()
        body2 = alert(fingerprint="nv2")
        del body2["alerts"][0]["annotations"]["value"]
        assert len((await deliver(engine, body2))["scheduled"]) == 1

    run(go)


def test_sustained_skips_are_written_once_per_episode() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(
            SCALE.replace(
                "cooldown: 60, params: {min_replicas: 1, max_replicas: 3}}\n  - {name: down",
                "cooldown: 600, params: {min_replicas: 1, max_replicas: 3}}\n  - {name: down",
                1,
            ),
            clock=clock,
        )
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "cpu", 0.9, "warning"))
        for _ in range(30):  # 300 s of high CPU, `for: 20s`, cooldown 600 s
            await engine.cycle()
            await engine.drain(5.0)
            clock.advance(10)
        outcomes = [(r.outcome, r.reason) for r in reversed(records(engine))]
        assert outcomes == [("succeeded", None), ("skipped", "cooldown")]
        assert engine.metrics.guard_skips.labels("cooldown")._value.get() > 1  # still counted

    run(go)


def test_half_open_trial_is_not_lost_to_a_noop_or_a_manual_action() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(RESTART, clock=clock)
        engine.store.set_breaker("orders", BreakerState("open", 2, clock.now - 601))
        assert engine.breaker_view("orders")["state"] == "half_open"
        engine.actuator.status = "noop"  # type: ignore[attr-defined]
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.reason == "noop"
        assert engine.store.breaker("orders").trial_in_flight is False
        engine.actuator.status = "succeeded"  # type: ignore[attr-defined]
        manual = await engine.manual("restart_container", "orders", {}, "operator")
        assert manual.outcome == "succeeded"
        state = engine.store.breaker("orders")
        assert state.trial_in_flight is False
        assert engine.breaker_view("orders")["state"] == "half_open"

    run(go)


def test_outside_alert_without_metric_needs_its_resolve() -> None:
    async def go() -> None:
        clock = FakeClock()
        text = RESTART.replace('"latency > 0.5 and severity >= warning"', '"severity >= critical"')
        engine = make_engine(text, clock=clock)
        body = alert(severity="critical")
        labels = body["alerts"][0]["labels"]
        for key in ("metric", "kind", "anomaly_id"):
            del labels[key]
        labels["alertname"] = "Watchdog"
        summary = await deliver(engine, body)
        assert len(summary["scheduled"]) == 1
        engine.snapshots.set(series("orders", "latency", 0.01))  # type: ignore[attr-defined]
        clock.advance(61)
        await engine.cycle()
        assert records(engine)[0].verification == "ineffective"

    run(go)


def test_open_anomaly_that_crosses_the_threshold_later_acts_once() -> None:
    text = """
policies:
  - {name: mem, condition: "memory > 300MB and severity >= warning",
     action: restart_container, service: orders, cooldown: 60}
"""

    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(text, clock=clock)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        # the anomaly opens at 150 MB: below the policy's threshold, nothing happens
        snaps.set(series("orders", "memory", 150e6, "warning", "deviation", "a-mem"))
        summary = await deliver(
            engine, alert(metric="memory", value="150000000", anomaly_id="a-mem", fingerprint="fm")
        )
        assert summary["ignored"] == 1
        await engine.cycle()
        await engine.drain(5.0)
        assert records(engine) == []
        # the leak goes on: same anomaly, now 350 MB -> acts once that held recheck_hold_s (20)
        snaps.set(series("orders", "memory", 350e6, "warning", "deviation", "a-mem"))
        for _ in range(4):
            clock.advance(5)
            await engine.cycle()
            await engine.drain(5.0)
        assert records(engine) == []
        clock.advance(5)
        await engine.cycle()
        await engine.drain(5.0)
        (rec,) = records(engine)
        assert rec.outcome == "succeeded"
        assert rec.trigger.anomaly_id == "a-mem"
        assert rec.trigger.source == "snapshot"
        assert rec.verification == "pending"
        # later cycles (even after the cooldown) do not act again on the same anomaly
        for _ in range(10):
            clock.advance(30)
            await engine.cycle()
            await engine.drain(5.0)
        assert [r.policy for r in records(engine)] == ["mem"]
        # the snapshot still showed the anomaly when the 60 s window ended
        assert records(engine)[0].verification == "ineffective"

    run(go)


def test_anomaly_skipped_for_grace_is_acted_on_once_grace_ends() -> None:
    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock)
        actuator.containers["orders"][0] = actuator._info("orders", 1, clock.now - 10)
        engine = make_engine(RESTART, clock=clock, actuator=actuator)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "latency", 0.9, "warning", "deviation", "a-1"))
        await engine.cycle()
        await deliver(engine, alert())
        assert [r.reason for r in records(engine)] == ["grace"]
        for _ in range(4):  # 40 s later the 30 s grace is over and the anomaly is still open
            clock.advance(10)
            await engine.cycle()
            await engine.drain(5.0)
        latest = records(engine)[0]
        assert (latest.outcome, latest.reason) == ("succeeded", None)
        assert restarts(engine) == 1

    run(go)


def test_docker_down_is_a_failed_action_with_a_reason() -> None:
    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock)
        actuator.containers = {}  # the real actuator lists nothing when the daemon is down
        actuator.reachable = False
        actuator.last_error = "list orders: connection refused"  # type: ignore[attr-defined]
        engine = make_engine(RESTART, clock=clock, actuator=actuator)
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "failed"
        assert rec.reason == "docker_unavailable"
        assert rec.error == "Docker is not reachable: list orders: connection refused"
        assert rec.verification == "failed"
        assert engine.store.breaker("orders").failures == 1
        # the daemon is back but the service has no eligible container: a skip, not a failure
        actuator.reachable = True
        clock.advance(1)
        again = await deliver(engine, alert(fingerprint="f2"))
        rec2 = engine.store.get_action(again["scheduled"][0]["id"])
        assert rec2 is not None
        assert rec2.outcome == "skipped"
        assert rec2.reason == "no_targets"

    run(go)


def test_hung_restart_times_out_as_failed() -> None:
    async def go() -> None:
        engine = make_engine(RESTART, action_timeout_s=0.3)
        engine.actuator.hang_actions = True  # type: ignore[attr-defined]
        summary = await deliver(engine, alert())
        rec = engine.store.get_action(summary["scheduled"][0]["id"])
        assert rec is not None
        assert rec.outcome == "failed"
        assert rec.reason is None
        assert (rec.error or "").startswith("timed out after")
        assert rec.verification == "failed"

    run(go)


def test_open_anomaly_with_no_eligible_container_writes_one_skip_per_reason() -> None:
    """Re-checks run every cycle; the audit log gets one row, the metric counts each skip."""

    async def go() -> None:
        clock = FakeClock()
        actuator = FakeActuator(clock)
        actuator.containers["orders"] = []
        engine = make_engine(RESTART, clock=clock, actuator=actuator)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(series("orders", "latency", 0.9, "warning", "deviation", "a-1"))
        await deliver(engine, alert())
        for _ in range(10):
            clock.advance(1)
            await engine.cycle()
            await engine.drain(5.0)
        skips = records(engine)
        assert [(r.outcome, r.reason) for r in skips] == [("skipped", "no_targets")]
        counted = engine.metrics.guard_skips.labels("no_targets")._value.get()
        assert counted >= 10
        assert restarts(engine) == 0

    run(go)


BUSY_GUARD = """
policies:
  - {name: lat, condition: "latency > 0.5 and severity >= warning and cpu < 0.3",
     action: restart_container, service: orders, cooldown: 300}
"""


def spike_cycle(latency: float, cpu: float) -> tuple[Any, ...]:
    return (
        series("orders", "latency", latency, "critical", "deviation", "a-lat"),
        series("orders", "cpu", cpu, "warning" if cpu > 0.3 else "normal"),
    )


def test_the_tail_of_a_load_spike_does_not_restart() -> None:
    """At a spike's end CPU falls at once while p99 still counts the slow requests for up to
    15 s: `cpu < 0.3` turns true while `latency > 0.5` still holds, for less than 20 s."""

    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(BUSY_GUARD, clock=clock)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(*spike_cycle(0.9, 0.8))
        summary = await deliver(engine, alert(anomaly_id="a-lat", severity="critical"))
        assert summary["ignored"] == 1  # busy: a capacity problem, not a restart case
        for latency, cpu in [(0.9, 0.8)] * 6 + [(0.9, 0.2), (0.8, 0.1), (0.7, 0.05)]:
            snaps.set(*spike_cycle(latency, cpu))
            clock.advance(5)
            await engine.cycle()
            await engine.drain(5.0)
        snaps.set(series("orders", "latency", 0.05), series("orders", "cpu", 0.05))
        clock.advance(5)
        await engine.cycle()
        assert records(engine) == []
        assert restarts(engine) == 0

    run(go)


def test_latency_that_outlasts_the_load_is_restarted_after_the_hold() -> None:
    """A hung worker under load: once CPU is down and latency stays, it is a restart case."""

    async def go() -> None:
        clock = FakeClock()
        engine = make_engine(BUSY_GUARD, clock=clock)
        snaps: FakeSnapshots = engine.snapshots  # type: ignore[assignment]
        snaps.set(*spike_cycle(0.9, 0.8))
        await deliver(engine, alert(anomaly_id="a-lat", severity="critical"))
        await engine.cycle()
        snaps.set(*spike_cycle(0.9, 0.05))
        acted_after = None
        for step in range(1, 9):
            clock.advance(5)
            await engine.cycle()
            await engine.drain(5.0)
            if records(engine) and acted_after is None:
                acted_after = 5 * step
        assert acted_after == 25  # seen true at 5 s, held 20 s at 25 s
        (rec,) = records(engine)
        assert rec.outcome == "succeeded"
        assert rec.trigger.anomaly_id == "a-lat"

    run(go)
