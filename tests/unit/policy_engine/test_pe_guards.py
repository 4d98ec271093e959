"""Guards as pure functions: cooldown, sliding budgets, breaker transitions, grace, order."""

from __future__ import annotations

from policy_engine.actuator.types import ContainerInfo
from policy_engine.guards import (
    BreakerState,
    BudgetCheck,
    GuardInputs,
    breaker_allows,
    breaker_effective,
    breaker_on_attempt,
    breaker_on_result,
    budget_check,
    cooldown_remaining,
    decide,
    grace_check,
    grace_remaining,
    replica_bound,
    select_targets,
    settling,
    target_cooldown,
)
from policy_engine.policies import BreakerConfig, Budget

CFG = BreakerConfig(failures=3, open_for_s=600)


def test_cooldown() -> None:
    assert cooldown_remaining(None, 300, 1000) == 0
    assert cooldown_remaining(1000, 300, 1100) == 200
    assert cooldown_remaining(1000, 300, 1300) == 0
    assert cooldown_remaining(1000, 0, 1000) == 0


def test_budget_sliding_window() -> None:
    budget = Budget(3, 3600)
    now = 10_000.0
    assert budget_check([], budget, now).allowed
    two = budget_check([now - 100, now - 200], budget, now)
    assert two.allowed
    assert two.used == 2
    full = budget_check([now - 100, now - 200, now - 3000], budget, now)
    assert not full.allowed
    assert full.used == 3
    assert full.retry_in_s == 600  # the oldest (now-3000) leaves the window in 600 s
    # an action older than the window no longer counts
    assert budget_check([now - 100, now - 200, now - 3600], budget, now).allowed


def test_breaker_opens_after_k_failures_and_escalates_once() -> None:
    state = BreakerState()
    opened_flags = []
    for i in range(3):
        state, opened = breaker_on_result(state, False, CFG, 100.0 + i)
        opened_flags.append(opened)
    assert opened_flags == [False, False, True]
    assert state.state == "open"
    assert state.opened_at == 102.0
    assert not breaker_allows(state, CFG, 200.0)


def test_breaker_half_open_allows_one_trial_then_closes_on_success() -> None:
    state = BreakerState("open", 3, 100.0)
    assert breaker_effective(state, CFG, 699.0) == "open"
    assert breaker_effective(state, CFG, 700.0) == "half_open"
    assert breaker_allows(state, CFG, 700.0)
    state = breaker_on_attempt(state, CFG, 700.0)
    assert state.state == "half_open"
    assert state.trial_in_flight
    assert not breaker_allows(state, CFG, 701.0)  # only one trial at a time
    state, opened = breaker_on_result(state, True, CFG, 750.0)
    assert state == BreakerState()
    assert not opened
    assert breaker_allows(state, CFG, 751.0)


def test_breaker_half_open_failure_reopens_with_fresh_timer() -> None:
    state = breaker_on_attempt(BreakerState("open", 3, 100.0), CFG, 800.0)
    state, opened = breaker_on_result(state, False, CFG, 850.0)
    assert opened
    assert state.state == "open"
    assert state.opened_at == 850.0
    assert not breaker_allows(state, CFG, 1000.0)
    assert breaker_allows(state, CFG, 1450.0)


def test_breaker_success_resets_failure_count() -> None:
    state, _ = breaker_on_result(BreakerState(), False, CFG, 1.0)
    state, _ = breaker_on_result(state, False, CFG, 2.0)
    assert state.failures == 2
    state, _ = breaker_on_result(state, True, CFG, 3.0)
    state, opened = breaker_on_result(state, False, CFG, 4.0)
    assert state.failures == 1
    assert not opened


def test_grace_uses_the_youngest_container() -> None:
    assert grace_remaining([], 60, 1000) == 0
    assert grace_remaining([None], 60, 1000) == 0
    assert grace_remaining([500.0, 980.0], 60, 1000) == 40
    assert grace_remaining([500.0, 900.0], 60, 1000) == 0


def inputs(**overrides: object) -> GuardInputs:
    base = dict(
        enabled=True,
        is_docker_action=True,
        cooldown_remaining_s=0.0,
        policy_budget=None,
        service_budget=None,
        global_budget=None,
        breaker_ok=True,
        in_progress=False,
    )
    base.update(overrides)
    return GuardInputs(**base)  # type: ignore[arg-type]


def test_decide_order_and_reasons() -> None:
    spent = BudgetCheck(False, 3, 3, 3600, 10)
    assert decide(inputs()).allowed
    assert decide(inputs(enabled=False, cooldown_remaining_s=5)).reason == "paused"
    assert decide(inputs(in_progress=True)).reason == "in_progress"
    assert decide(inputs(cooldown_remaining_s=5, breaker_ok=False)).reason == "cooldown"
    assert decide(inputs(breaker_ok=False, policy_budget=spent)).reason == "breaker_open"
    # the breaker does not stop alerts: they are how it escalates
    assert decide(inputs(breaker_ok=False, is_docker_action=False)).allowed
    for key in ("policy_budget", "service_budget", "global_budget"):
        decision = decide(inputs(**{key: spent}))
        assert decision.reason == "budget"
        assert key.split("_")[0] in decision.detail


def test_settling_holds_no_data_only_inside_the_grace_after_an_action() -> None:
    last = ("restart_container", "users_hang_restart", 1000.0)
    assert settling(None, 45, 1010) is None
    assert settling(last, 45, 1010) == ("restart_container", "users_hang_restart", 10.0)
    assert settling(last, 45, 1045) is None  # the grace is over: the gap is an outage now
    assert settling(last, 0, 1000) is None  # grace_period 0: nothing is held
    held = decide(inputs(settling=settling(last, 45, 1012), cooldown_remaining_s=5))
    assert held.reason == "settling"
    assert "'users_hang_restart' 12 s ago" in held.detail
    # an operator's pause and windows come first
    assert decide(inputs(enabled=False, settling=("scale_up", "p", 1.0))).reason == "paused"


# the guards that read target state (containers listed once per action) ----------------------


def box(number: int, started: float | None, state: str = "running") -> ContainerInfo:
    return ContainerInfo(
        id=f"{number:02d}" * 32,
        name=f"relia-orders-{number}",
        service="orders",
        number=number,
        state=state,
        started_at=started,
        created_at=0.0,
    )


def test_target_cooldown_is_one_window_per_target_across_policies() -> None:
    assert target_cooldown(None, "p1", 300, 1000) is None
    assert target_cooldown(("p1", 900.0), "p1", 300, 1000) is None  # its own: plain cooldown
    assert target_cooldown(("p2", 900.0), "p1", 300, 1000) == ("p2", 200.0)
    assert target_cooldown(("p2", 600.0), "p1", 300, 1000) is None  # outside p1's window
    decision = decide(inputs(target_cooldown=("orders_error_rate", 200.0)))
    assert decision.reason == "target_cooldown"
    assert "'orders_error_rate'" in decision.detail
    # order: pause and the policy's own cooldown first, then the target's, then in progress
    both = inputs(cooldown_remaining_s=5, target_cooldown=("p2", 9.0), in_progress=True)
    assert decide(both).reason == "cooldown"
    later = inputs(target_cooldown=("p2", 9.0), in_progress=True, breaker_ok=False)
    assert decide(later).reason == "target_cooldown"


def test_select_targets_no_targets_reasons() -> None:
    one, two = box(1, 0.0), box(2, 0.0, state="exited")
    assert select_targets("restart_container", "orders", [one, two], None, False) == (
        [one, two],
        None,
    )
    chosen, refusal = select_targets("restart_container", "orders", [], None, False)
    assert chosen == []
    assert refusal is not None
    assert refusal.reason == "no_targets"
    assert "no eligible container for service 'orders'" in refusal.detail
    _, refusal = select_targets("restart_container", "orders", [one], "relia-orders-9", False)
    assert refusal is not None
    assert "'relia-orders-9' is not an eligible replica" in refusal.detail
    assert select_targets("restart_container", "orders", [one, two], one.id[:12], False)[0] == [one]
    assert select_targets("restart_container", "orders", [one, two], None, True) == ([two], None)
    _, refusal = select_targets("restart_container", "orders", [one], None, True)
    assert refusal is not None
    assert "every eligible replica of 'orders' is running" in refusal.detail
    # only_not_running is a restart parameter: scaling counts every replica
    assert select_targets("scale_up", "orders", [one, two], None, True) == ([one, two], None)


def test_replica_bounds() -> None:
    assert replica_bound("scale_up", 2, 1, 3) is None
    at_max = replica_bound("scale_up", 3, 1, 3)
    assert at_max is not None
    assert at_max.reason == "at_max_replicas"
    assert at_max.detail == "3 replicas, max 3"
    at_min = replica_bound("scale_down", 1, 1, 3)
    assert at_min is not None
    assert at_min.reason == "at_min_replicas"
    assert replica_bound("scale_down", 2, 1, 3) is None
    assert replica_bound("restart_container", 9, 1, 3) is None


def test_grace_check_looks_at_running_targets_only() -> None:
    assert grace_check([box(1, 500.0)], 60, 1000) is None
    young = grace_check([box(1, 500.0), box(2, 980.0)], 60, 1000)
    assert young is not None
    assert young.reason == "grace"
    assert "40 s of grace left" in young.detail
    assert grace_check([box(2, 980.0, state="exited")], 60, 1000) is None
    assert grace_check([box(1, None)], 60, 1000) is None
