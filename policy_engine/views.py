"""Read-only views of engine state for the API (GET /policies items)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policy_engine.guards import budget_check, cooldown_remaining, target_cooldown
from policy_engine.policies import DOCKER_ACTIONS, Policy

if TYPE_CHECKING:
    from policy_engine.engine import Engine


def policy_view(engine: Engine, policy: Policy) -> dict[str, Any]:
    """A policy as /policies shows it: definition, cooldown left, budgets used, breaker,
    since when a `for` condition has held."""
    now = engine.clock()
    last = engine.store.last_acted_at(policy.name, policy.service)
    used: dict[str, Any] = {}
    if policy.budget is not None:
        times = engine.store.attempt_times(
            now - policy.budget.window_s, policy=policy.name, service=policy.service
        )
        check = budget_check(times, policy.budget, now)
        used["policy"] = {"used": check.used, "max": check.limit, "window_s": check.window_s}
    eff = engine.effective
    if policy.action in DOCKER_ACTIONS and eff.per_service_budget is not None:
        times = engine.store.attempt_times(
            now - eff.per_service_budget.window_s,
            service=policy.service,
            actions=DOCKER_ACTIONS,
        )
        check = budget_check(times, eff.per_service_budget, now)
        used["service"] = {"used": check.used, "max": check.limit, "window_s": check.window_s}
    view = policy.as_dict()
    view["cooldown_remaining_s"] = round(cooldown_remaining(last, policy.cooldown_s, now), 3)
    across = None
    if policy.action in DOCKER_ACTIONS and eff.target_cooldown:
        acted = engine.store.last_on_target(policy.service, policy.action)
        across = target_cooldown(acted, policy.name, policy.cooldown_s, now)
    # another policy's action on the target holds this one back this long (0: free)
    view["target_cooldown_remaining_s"] = round(across[1], 3) if across else 0.0
    view["budget_used"] = used
    view["breaker"] = engine.breaker_view(policy.service)
    key = (policy.name, policy.service, policy.condition)
    view["condition_true_since"] = engine.triggers.since.get(key)
    return view
