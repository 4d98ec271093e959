"""Safety guards as pure functions over state read from the store (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from policy_engine.actuator.types import ContainerInfo
from policy_engine.policies import BreakerConfig, Budget

BreakerStateName = Literal["closed", "open", "half_open"]


def cooldown_remaining(last_acted_at: float | None, cooldown_s: float, now: float) -> float:
    """Seconds until (policy, target) may act again; 0 when free."""
    if last_acted_at is None:
        return 0.0
    return max(0.0, last_acted_at + cooldown_s - now)


@dataclass(frozen=True)
class BudgetCheck:
    allowed: bool
    used: int
    limit: int
    window_s: float
    retry_in_s: float  # when the oldest counted action leaves the window


def budget_check(timestamps: Sequence[float], budget: Budget, now: float) -> BudgetCheck:
    """Sliding window: allowed while fewer than `max_actions` actions happened in the window."""
    inside = sorted(t for t in timestamps if now - budget.window_s < t <= now)
    allowed = len(inside) < budget.max_actions
    retry = 0.0 if allowed else max(0.0, inside[0] + budget.window_s - now)
    return BudgetCheck(allowed, len(inside), budget.max_actions, budget.window_s, retry)


@dataclass(frozen=True)
class BreakerState:
    """Per-target breaker: consecutive bad remediations, and whether a half-open trial is out."""

    state: BreakerStateName = "closed"
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False


def breaker_effective(state: BreakerState, cfg: BreakerConfig, now: float) -> BreakerStateName:
    """Open turns half-open once `open_for_s` has passed since it opened."""
    if (
        state.state == "open"
        and state.opened_at is not None
        and now - state.opened_at >= cfg.open_for_s
    ):
        return "half_open"
    return state.state


def breaker_allows(state: BreakerState, cfg: BreakerConfig, now: float) -> bool:
    """Closed: act. Open: do not. Half-open: one trial action at a time."""
    effective = breaker_effective(state, cfg, now)
    if effective == "closed":
        return True
    if effective == "half_open":
        return not state.trial_in_flight
    return False


def breaker_on_attempt(state: BreakerState, cfg: BreakerConfig, now: float) -> BreakerState:
    """Record that an action is going out; in half-open it is the single trial."""
    if breaker_effective(state, cfg, now) == "half_open":
        return replace(state, state="half_open", trial_in_flight=True)
    return state


def breaker_on_result(
    state: BreakerState, good: bool, cfg: BreakerConfig, now: float
) -> tuple[BreakerState, bool]:
    """Feed a verified result; returns the new state and whether the breaker just opened."""
    if good:
        return BreakerState(), False
    failures = state.failures + 1
    was_half_open = breaker_effective(state, cfg, now) == "half_open"
    if was_half_open or failures >= cfg.failures:
        # a failed half-open trial re-opens at once with a fresh timer
        return BreakerState("open", failures, now, False), True
    return replace(state, failures=failures, trial_in_flight=False), False


def grace_remaining(started_at: Sequence[float | None], grace_s: float, now: float) -> float:
    """Seconds until the youngest container leaves its start-up grace; 0 when none is young."""
    ages = [now - t for t in started_at if t is not None]
    if not ages:
        return 0.0
    return max(0.0, grace_s - min(ages))


@dataclass(frozen=True)
class GuardInputs:
    """Everything the guard pipeline needs, read from the store before deciding."""

    enabled: bool
    is_docker_action: bool
    cooldown_remaining_s: float
    policy_budget: BudgetCheck | None
    service_budget: BudgetCheck | None
    global_budget: BudgetCheck | None
    breaker_ok: bool
    in_progress: bool
    # another policy's action on this target, inside this policy's cooldown: (policy, seconds left)
    target_cooldown: tuple[str, float] | None = None
    # an operator said "not now": a maintenance window (name, until) or a silence (id, detail)
    maintenance: tuple[str, float] | None = None
    silence: tuple[str, str] | None = None
    # a no_data trigger on a service this engine restarted or scaled moments ago:
    # (action, policy, seconds ago); see settling()
    settling: tuple[str, str, float] | None = None


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason: str | None = None
    detail: str = ""


def target_cooldown(
    last: tuple[str, float] | None, policy: str, cooldown_s: float, now: float
) -> tuple[str, float] | None:
    """One cooldown per target across policies: `last` is (policy, time) of the latest action
    of the same kind on the target by any policy; another policy inside `cooldown_s` blocks."""
    if last is None or last[0] == policy:
        return None
    left = cooldown_remaining(last[1], cooldown_s, now)
    return (last[0], left) if left > 0 else None


def settling(
    last: tuple[str, str, float] | None, grace_s: float, now: float
) -> tuple[str, str, float] | None:
    """`last` = (action, policy, time) of the latest Docker action on the service. Inside the
    start-up grace after it, the service's missing data is that action's own gap (a restart
    stops the process, a new replica has no series yet): (action, policy, seconds ago)."""
    if last is None:
        return None
    action, policy, at = last
    ago = now - at
    return (action, policy, ago) if 0 <= ago < grace_s else None


def decide(inputs: GuardInputs) -> GuardDecision:
    """Guards in a fixed order; the first that refuses names the skip reason."""
    for guard in (_held, _resting, _over_budget):
        refusal = guard(inputs)
        if refusal is not None:
            return refusal
    return GuardDecision(True)


def _held(inputs: GuardInputs) -> GuardDecision | None:
    """Operators' holds (pause, maintenance, silence) and a recent action's own gap."""
    if not inputs.enabled:
        return GuardDecision(False, "paused", "remediation is paused (POST /toggle)")
    if inputs.maintenance is not None:
        name, until = inputs.maintenance
        return GuardDecision(
            False, "maintenance", f"maintenance window '{name}' (until {_utc(until)})"
        )
    if inputs.silence is not None:
        silence_id, what = inputs.silence
        return GuardDecision(False, "silenced", f"Alertmanager silence {silence_id}: {what}")
    if inputs.settling is not None:
        action, policy, ago = inputs.settling
        return GuardDecision(
            False,
            "settling",
            f"{action} by '{policy}' {ago:.0f} s ago: missing data while the target restarts "
            "is that action's own gap (grace_period)",
        )
    return None


def _resting(inputs: GuardInputs) -> GuardDecision | None:
    """The policy or the target cools down, is busy, or its breaker is open."""
    if inputs.cooldown_remaining_s > 0:
        return GuardDecision(
            False, "cooldown", f"cooldown: {inputs.cooldown_remaining_s:.0f} s remaining"
        )
    if inputs.target_cooldown is not None:
        other, left = inputs.target_cooldown
        return GuardDecision(
            False,
            "target_cooldown",
            f"policy '{other}' already acted on this target: {left:.0f} s of cooldown remaining",
        )
    if inputs.in_progress:
        return GuardDecision(False, "in_progress", "another action on this target is running")
    if inputs.is_docker_action and not inputs.breaker_ok:
        return GuardDecision(False, "breaker_open", "circuit breaker open for this target")
    return None


def _over_budget(inputs: GuardInputs) -> GuardDecision | None:
    for label, check in (
        ("policy", inputs.policy_budget),
        ("service", inputs.service_budget),
        ("global", inputs.global_budget),
    ):
        if check is not None and not check.allowed:
            return GuardDecision(
                False,
                "budget",
                f"{label} budget used: {check.used}/{check.limit} in {check.window_s:.0f} s "
                f"(frees in {check.retry_in_s:.0f} s)",
            )
    return None


# target guards: pure functions over the target state read once (list of eligible containers)


def select_targets(
    action: str,
    service: str,
    targets: Sequence[ContainerInfo],
    container: str | None,
    only_not_running: bool,
) -> tuple[list[ContainerInfo], GuardDecision | None]:
    """The containers an action would touch, or a `no_targets` refusal saying why."""
    if not targets:
        return [], GuardDecision(
            False, "no_targets", f"no eligible container for service '{service}'"
        )
    chosen = list(targets)
    if container is not None:
        chosen = [t for t in chosen if container in (t.name, t.id, t.id[:12])]
        if not chosen:
            why = f"container '{container}' is not an eligible replica of '{service}'"
            return [], GuardDecision(False, "no_targets", why)
    if action == "restart_container" and only_not_running:
        chosen = [t for t in chosen if t.state != "running"]
        if not chosen:
            why = f"every eligible replica of '{service}' is running"
            return [], GuardDecision(False, "no_targets", why)
    return chosen, None


def replica_bound(
    action: str, count: int, min_replicas: int, max_replicas: int
) -> GuardDecision | None:
    """Scaling already at its bound: `at_max_replicas` / `at_min_replicas`."""
    if action == "scale_up" and count >= max_replicas:
        return GuardDecision(False, "at_max_replicas", f"{count} replicas, max {max_replicas}")
    if action == "scale_down" and count <= min_replicas:
        return GuardDecision(False, "at_min_replicas", f"{count} replicas, min {min_replicas}")
    return None


def grace_check(
    targets: Sequence[ContainerInfo], grace_s: float, now: float
) -> GuardDecision | None:
    """A running target younger than the start-up grace period is left alone."""
    running = [t.started_at for t in targets if t.state == "running"]
    left = grace_remaining(running, grace_s, now)
    if left <= 0:
        return None
    return GuardDecision(
        False,
        "grace",
        f"a container started less than {grace_s:.0f} s ago ({left:.0f} s of grace left)",
    )
