import asyncio
from types import SimpleNamespace
from typing import Any

from chaos_simulator.loop_watch import plan_says
from chaos_simulator.scenario import (
    RESTART,
    SCENARIOS,
    active_anomalies,
    closing_outcomes,
    cooldown_left,
    match_action,
    match_anomaly,
    matching_actions,
    warm_series,
)
from chaos_simulator.targets import TargetUnreachable
from chaos_simulator.timeline import Timeline


def test_scenarios_cover_the_issue() -> None:
    assert SCENARIOS["latency-restart"].service == "orders"
    assert SCENARIOS["latency-restart"].metric == "latency"
    assert SCENARIOS["errors-restart"].service == "payments"
    assert SCENARIOS["errors-restart"].metric == "error_rate"
    assert SCENARIOS["cpu-scale"].actions == ("scale_up",)
    assert SCENARIOS["cpu-scale"].fault is None


def test_match_anomaly_takes_the_earliest_new_one_on_the_series() -> None:
    anomalies = [
        {"id": "old", "service": "orders", "metric": "latency", "opened_at": 90.0},
        {"id": "other-metric", "service": "orders", "metric": "cpu", "opened_at": 101.0},
        {"id": "other-service", "service": "users", "metric": "latency", "opened_at": 101.0},
        {"id": "late", "service": "orders", "metric": "latency", "opened_at": 120.0},
        {"id": "first", "service": "orders", "metric": "latency", "opened_at": 105.0},
    ]
    assert match_anomaly(anomalies, "orders", "latency", 100.0)["id"] == "first"  # type: ignore[index]
    assert match_anomaly(anomalies, "payments", "latency", 100.0) is None
    active = [{"id": "x", "service": "orders", "metric": "latency", "status": "active"}]
    assert active_anomalies(active, "orders", "latency") == ["x"]
    assert active_anomalies(active, "orders", "cpu") == []


def test_match_action_counts_only_the_right_outcome() -> None:
    actions = [
        {
            "id": "1",
            "service": "orders",
            "action": "restart_container",
            "outcome": "skipped",
            "reason": "cooldown",
            "created_at": 110.0,
        },
        {
            "id": "2",
            "service": "orders",
            "action": "restart_container",
            "outcome": "dry_run",
            "created_at": 111.0,
        },
        {
            "id": "3",
            "service": "orders",
            "action": "restart_container",
            "outcome": "succeeded",
            "created_at": 112.0,
        },
        {
            "id": "4",
            "service": "orders",
            "action": "restart_container",
            "outcome": "succeeded",
            "created_at": 50.0,
        },
    ]
    found, others = match_action(actions, "orders", ("restart_container",), 100.0, False)
    assert found is not None
    assert found["id"] == "3"
    assert [o["id"] for o in others] == ["1", "2"]
    found, _ = match_action(actions, "orders", ("restart_container",), 100.0, True)
    assert found is not None
    assert found["id"] == "2"
    found, others = match_action(actions, "orders", ("scale_up",), 100.0, False)
    assert found is None
    assert len(others) == 3


def test_timeline_reports_relative_times_and_closure() -> None:
    tl = Timeline("latency-restart", "orders", "latency", 1000.0, dry_run=False)
    assert not tl.closed
    tl.detected_at, tl.acted_at, tl.recovered_at = 1006.5, 1009.0, 1030.25
    tl.anomaly = {"id": "a-1", "severity": "warning", "peak_severity": "critical"}
    tl.action = {"id": "act-1", "action": "restart_container", "trigger": {"anomaly_id": "a-1"}}
    report = tl.to_dict()
    assert report["time_to_detect_s"] == 6.5
    assert report["time_to_act_s"] == 9.0
    assert report["time_to_recover_s"] == 30.25
    assert report["closed"] is True
    assert report["anomaly"]["severity"] == "critical"
    assert report["action"]["trigger_anomaly_id"] == "a-1"
    tl.failed_phase = "recover"
    assert tl.to_dict()["closed"] is False


def test_an_anomaly_settled_below_warning_counts_as_recovered_after_the_settle_time() -> None:
    from chaos_simulator.timeline import SETTLED_S, Settling

    watch = Settling()
    assert watch.see("critical", 100.0) is None
    assert watch.see("info", 105.0) is None  # below warning, not for long yet
    assert watch.see("warning", 110.0) is None  # back up: the clock restarts
    assert watch.see("info", 115.0) is None
    assert watch.see("normal", 115.0 + SETTLED_S - 1) is None
    assert watch.see("info", 115.0 + SETTLED_S) == 115.0  # recovered since it went below
    assert Settling().see("garbage", 1.0) is None


def test_a_missing_action_is_explained_by_the_engines_plan() -> None:
    async def plan(service: str) -> dict[str, str]:
        assert service == "payments"
        return {"summary": "none will act now: p waits: payments is under load"}

    async def down(service: str) -> dict[str, str]:
        raise TargetUnreachable("policy engine", "http://127.0.0.1:1", "connection refused")

    def clients(answer: Any) -> Any:
        return SimpleNamespace(policy=SimpleNamespace(plan=answer))

    said = asyncio.run(plan_says(clients(plan), "payments"))
    assert said == "; the engine's plan now: none will act now: p waits: payments is under load"
    unread = asyncio.run(plan_says(clients(down), "payments"))
    assert unread.startswith("; the engine's plan could not be read:")


def test_match_anomaly_with_caused_by_takes_only_a_victims_attributed_one() -> None:
    anomalies = [
        {"id": "own", "service": "orders", "metric": "error_rate", "opened_at": 101.0,
         "caused_by": []},
        {"id": "none", "service": "orders", "metric": "error_rate", "opened_at": 102.0},
        {"id": "victim", "service": "orders", "metric": "error_rate", "opened_at": 103.0,
         "caused_by": ["payments"]},
    ]  # fmt: skip
    found = match_anomaly(anomalies, "orders", "error_rate", 100.0, caused_by="payments")
    assert found is not None
    assert found["id"] == "victim"
    assert match_anomaly(anomalies, "orders", "error_rate", 100.0, caused_by="users") is None
    assert match_anomaly(anomalies, "orders", "error_rate", 100.0)["id"] == "own"  # type: ignore[index]


def test_matching_actions_and_an_explicit_outcome() -> None:
    records = [
        {"id": "s", "service": "users", "action": "restart_container", "outcome": "skipped",
         "reason": "paused", "created_at": 105.0},
        {"id": "r2", "service": "users", "action": "restart_container", "outcome": "succeeded",
         "created_at": 130.0},
        {"id": "r1", "service": "users", "action": "restart_container", "outcome": "succeeded",
         "created_at": 120.0},
        {"id": "old", "service": "users", "action": "restart_container", "outcome": "succeeded",
         "created_at": 99.0},
        {"id": "o", "service": "orders", "action": "restart_container", "outcome": "succeeded",
         "created_at": 125.0},
    ]  # fmt: skip
    done = matching_actions(records, "users", RESTART, 100.0, closing_outcomes(False))
    assert [r["id"] for r in done] == ["r1", "r2"]  # oldest first, none before `since`
    skip, others = match_action(records, "users", RESTART, 100.0, False, outcomes={"skipped"})
    assert skip is not None
    assert skip["reason"] == "paused"
    assert [r["id"] for r in others] == ["r1", "r2"]
    assert closing_outcomes(True) == {"dry_run"}
    assert match_action(records, "users", RESTART, 100.0, True) == (None, [records[0], *done])


def test_warm_series_needs_every_row_of_a_pair_past_warm_up() -> None:
    rows = [
        {"service": "orders", "metric": "latency", "warming_up": False},
        {"service": "orders", "metric": "cpu", "warming_up": True},
        {"service": "users", "metric": "latency"},
        {"service": "users", "metric": "cpu", "warming_up": False},
        {"service": "users", "metric": "cpu", "warming_up": True},
    ]
    assert warm_series(rows) == {("orders", "latency"), ("users", "latency")}
    assert warm_series([]) == set()


def test_cooldown_left_counts_the_target_cooldown_too() -> None:
    assert cooldown_left({"cooldown_remaining_s": 0, "target_cooldown_remaining_s": 0}) == 0.0
    assert cooldown_left({"cooldown_remaining_s": 12.5, "target_cooldown_remaining_s": 40}) == 40
    assert cooldown_left({"cooldown_remaining_s": "bad", "target_cooldown_remaining_s": None}) == 0
    assert cooldown_left({}) == 0.0
