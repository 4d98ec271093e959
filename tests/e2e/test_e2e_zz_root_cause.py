"""Root cause on the real stack: users hangs (health still answers) -> users restarted, orders
(its caller, which times out waiting) never. Its place in the run is set in tests/e2e/conftest.py
(ORDER); it still first waits out any cooldown on users (one restart per target per window: seen
before the ordering, the hang policy fired 12 s after the fault and was held by target_cooldown).
Dependency error faults are checked in scenarios 2 and 6 (wrong-target restarts, the victim's
triage packet)."""

from __future__ import annotations

import time

import pytest

from chaos_simulator.scenario import warm_series
from tests.e2e.conftest import Stack
from tests.e2e.harness import container_started_at, containers, wait_past_grace
from tests.e2e.report import REPORT
from tests.e2e.steps import (
    find_action,
    restarts_of,
    start_fault,
    wait_cooldowns_over,
    wait_detected,
    wait_fault_gone,
    wait_for,
    wait_quiet,
)
from tests.e2e.sync_client import wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_a_hung_users_is_restarted_and_its_caller_never(stack: Stack) -> None:
    """Scenario 9: users hangs every request -> its probe fails -> users restarted."""
    api, prom = stack.api, stack.prom
    wait_past_grace("users")
    wait_until(
        "users' probe signals to have learned baselines",
        lambda: (
            {("users", "probe_success"), ("users", "probe_unanswered")} <= warm_series(api.series())
        ),
        300,
        5,
    )
    wait_cooldowns_over(api, "users_hang_restart")
    wait_quiet(api, "users", "probe_success")
    (users,) = containers("users")
    started_before = container_started_at(users["name"])
    timing = start_fault(api, "9 users hang -> restart users", "users", "hang")
    started = timing.fault_at
    try:
        wait_detected(api, timing, "users", "probe_success")
        action = wait_for(
            api, "users", started, "a restart of the hung users",
            lambda: find_action(api, "users", "restart_container", started), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]
        assert action["policy"] == "users_hang_restart", action
        assert container_started_at(users["name"]) > started_before  # a real restart

        def probes_pass() -> bool:
            value = prom.value('min(probe_success{job="probes",service="users"})')
            return value == 1.0

        wait_until("users' probe to pass again", probes_pass, 120, 1)
        timing.normal_at = time.time()
        wait_fault_gone(api, "users")  # the restart, not a DELETE, cured it
        wrong = restarts_of(api, "orders", started)
        timing.note = f"wrong-target restarts: {len(wrong)}"
        assert wrong == [], f"orders (a caller of the hung users) restarted: {wrong}"
        REPORT.facts["hang -> users restarted (s after the fault)"] = round(
            action["created_at"] - started, 1
        )
    finally:
        api.clear("users")
