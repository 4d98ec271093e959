"""End-to-end scenarios on the compose stack: fault -> anomaly -> policy -> Docker -> recovery.

The tests run on one stack (session fixture, baselines learned once), in the order that
tests/e2e/conftest.py sets: it spaces the scenarios on one service so that none waits out the
cooldown of the restart the one before it caused. Faults are injected through the gateway's
/chaos API (one replica per service at that point).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos_simulator.client import PolicyFile
from tests.e2e.conftest import Stack
from tests.e2e.harness import containers, wait_past_grace
from tests.e2e.prom import signal_left_its_band
from tests.e2e.report import REPORT, Timing
from tests.e2e.steps import (
    ScaleUpWatch,
    calm_for,
    find_action,
    find_anomaly,
    restarts_of,
    start_fault,
    victim_triage,
    wait_cooldowns_over,
    wait_detected,
    wait_fault_gone,
    wait_for,
    wait_quiet,
)
from tests.e2e.sync_client import wait_until

pytestmark = pytest.mark.e2e

STEADY_WINDOW_S = 300.0


@pytest.mark.timeout(3000)
def test_steady_healthy_load_takes_no_action(stack: Stack) -> None:
    """Scenario 5: five minutes of steady healthy load -> zero actions, and no anomaly above info
    unless the signal really left its band (read back from Prometheus, not from the anomaly
    service): a busy host can slow the services, and reporting that is right; acting is not."""
    api, prom = stack.api, stack.prom
    # The start is quiet: from `up` to learned baselines, before any scenario's fault, no
    # no_data and no action.
    at_start = [
        f"{a['service']} {a['metric']} +{a['opened_at'] - stack.started_at:.0f}s"
        for a in api.anomalies(since=stack.started_at)
        if a["kind"] == "no_data" and a["opened_at"] < stack.warm_at
    ]
    assert at_start == [], f"no_data raised by the start itself: {at_start}"
    acted = [a for a in api.actions(since=stack.started_at) if a["created_at"] < stack.warm_at]
    assert acted == [], f"actions before any fault: {acted}"
    # Whatever an earlier scenario opened must resolve before the window starts.
    wait_until("no open anomaly above info", lambda: not api.anomalies(status="active",
               severity="warning"), 180, 5)  # fmt: skip
    started = time.time()
    timing = Timing("5 steady load (5 min)", started)
    deadline = time.monotonic() + STEADY_WINDOW_S
    load: list[float] = []
    while time.monotonic() < deadline:  # watch, and fail early if anything acts
        actions = api.actions(since=started)
        assert actions == [], (
            f"actions on healthy traffic: {actions}\n  the 90 s before (every 5 s): "
            f"{prom.host_evidence(min(a['created_at'] for a in actions))}"
        )
        load.append(os.getloadavg()[0])
        time.sleep(15)
    actions = api.actions(since=started)
    above_info = api.anomalies(since=started, severity="warning")
    seen = {a["id"]: signal_left_its_band(api, prom, a) for a in above_info}
    timing.note = (
        f"{len(actions)} actions, {len(above_info)} anomalies >= warning "
        f"({sum(v is not None for v in seen.values())} confirmed by Prometheus), "
        f"{len(api.anomalies(since=started))} of any severity in {STEADY_WINDOW_S:.0f}s; "
        f"host load average {min(load, default=0):.1f}-{max(load, default=0):.1f}"
    )
    REPORT.timings.append(timing)
    assert actions == []
    unfounded = [
        f"{a['service']} {a['metric']} {a['severity']} ({a['summary']}) "
        f"+{a['opened_at'] - started:.0f}s"
        for a in above_info
        if seen[a["id"]] is None
    ]
    assert unfounded == [], f"anomalies on a signal that stayed in its band: {unfounded}"


@pytest.mark.timeout(600)
def test_latency_fault_on_orders_is_cured_by_restart(stack: Stack) -> None:
    """Scenario 1: persistent latency on orders -> anomaly >= warning -> restart -> p99 back."""
    api, prom = stack.api, stack.prom
    wait_past_grace("orders")
    wait_quiet(api, "orders", "latency")
    baseline = prom.p99("orders", "1m") or 0.05
    timing = start_fault(api, "1 orders latency 800ms -> restart", "orders", "latency", ms=800)
    started = timing.fault_at
    try:
        wait_detected(api, timing, "orders", "latency")
        action = wait_for(
            api, "orders", started, "a restart of orders",
            lambda: find_action(api, "orders", "restart_container", started), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]
        assert action["policy"] == "orders_high_latency_restart"
        assert action["trigger"]["metric"] == "latency"
        threshold = max(3 * baseline, baseline + 0.1)

        def back_to_baseline() -> bool:
            p99 = prom.p99("orders")
            return p99 is not None and p99 <= threshold

        wait_until(f"orders p99 <= {threshold:.3f}s", back_to_baseline, 120, 1)
        timing.normal_at = time.time()
        wait_fault_gone(api, "orders")  # the restart, not a DELETE, cleared it
        timing.note = f"baseline p99 {baseline * 1000:.0f} ms"
    finally:
        api.clear("orders")


@pytest.mark.timeout(600)
def test_error_fault_on_payments_is_cured_by_restart(stack: Stack) -> None:
    """Scenario 2: errors on payments -> restart -> error ratio back to normal."""
    api, prom = stack.api, stack.prom
    wait_past_grace("payments")
    wait_quiet(api, "payments", "error_rate")
    # the victim's signal too: its anomaly must be one this fault opens. The hang scenario just
    # before restarts users, and orders' calls fail while it restarts: that error anomaly of
    # orders opens ~15 s after the restart, after the hang scenario has ended (seen twice: it
    # opened 6 s before this fault, which then opened none). So quiet for 25 s, not just now.
    wait_quiet(api, "orders", "error_rate", calm_s=25)
    # and orders' other callee: users is a second suspect while any anomaly of its own is open
    # (seen: its probe anomaly still open 10 s after the restart, and the triage named
    # payments and users)
    wait_until(
        "no open anomaly on users, orders' other callee, for 10 s",
        calm_for(10, lambda: not api.anomalies(service="users", status="active")), 130, 2,
    )  # fmt: skip
    timing = start_fault(
        api, "2 payments errors 60% -> restart", "payments", "errors", rate=0.6, status=500
    )
    started = timing.fault_at
    try:
        wait_detected(api, timing, "payments", "error_rate")
        action = wait_for(
            api, "payments", started, "a restart of payments",
            lambda: find_action(api, "payments", "restart_container", started), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]
        assert action["policy"] == "payments_error_rate_restart"
        # orders fails with payments (each order calls it): its anomaly names payments, and
        # orders, the victim, is never restarted.
        packet = victim_triage(api, "orders", "payments", "error_rate", started)
        REPORT.facts["triage of orders' anomaly, payments erroring"] = packet

        def normal() -> bool:
            ratio = prom.error_ratio("payments")
            return ratio is not None and ratio < 0.05

        wait_until("payments error ratio < 5%", normal, 120, 1)
        timing.normal_at = time.time()
        wait_fault_gone(api, "payments")
        wrong = restarts_of(api, "orders", started)
        timing.note = f"wrong-target restarts: {len(wrong)}"
        assert wrong == [], f"orders (a victim) restarted: {wrong}"
    finally:
        api.clear("payments")


@pytest.mark.timeout(600)
def test_paused_remediation_records_a_skip_then_acts_when_enabled(stack: Stack) -> None:
    """Scenario 4: toggle off -> fault detected, skip recorded, no action -> on -> action."""
    api, prom = stack.api, stack.prom
    wait_past_grace("users")
    wait_quiet(api, "users", "latency")
    assert api.toggle(False) is False  # the engine answers the state it is now in
    try:
        assert api.status().enabled is False
        timing = start_fault(api, "4 users latency, paused then on", "users", "latency", ms=800)
        started = timing.fault_at
        wait_detected(api, timing, "users", "latency")
        skip = wait_for(
            api, "users", started, "a skipped (paused) action on users",
            lambda: find_action(api, "users", "restart_container", started, outcome="skipped"),
            90,
        )  # fmt: skip
        assert skip["reason"] == "paused", skip
        done = [a for a in api.actions(service="users", since=started)
                if a["outcome"] not in ("skipped",)]  # fmt: skip
        assert done == [], f"acted while paused: {done}"
        enabled_at = time.time()
        assert api.toggle(True) is True
        action = wait_for(
            api, "users", started, "a restart of users after re-enabling",
            lambda: find_action(api, "users", "restart_container", enabled_at), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]

        def normal() -> bool:
            p99 = prom.p99("users")
            return p99 is not None and p99 < 0.3

        wait_until("users p99 < 300 ms", normal, 120, 1)
        timing.normal_at = time.time()
        timing.note = f"re-enabled at +{enabled_at - started:.1f}s"
    finally:
        api.toggle(True)
        api.clear("users")


@dataclass
class Overload:
    """Scenario 3's state between its two halves: when the overload stopped, and its row."""

    stopped: float
    timing: Timing
    peak: float


OVERLOAD: list[Overload] = []  # set by 3a, read by 3b (tests/e2e/conftest.py runs 6 between)


@pytest.mark.timeout(600)
def test_cpu_overload_scales_orders_up(stack: Stack) -> None:
    """Scenario 3a: CPU overload of orders -> scale_up -> the new replica is scraped and serves a
    real share of gateway traffic -> the overload stops. 3b checks the scale-down: the shipped
    `cpu < 0.2 for 120s` takes 2-4 minutes, and scenario 6 (users) runs meanwhile.

    The overload is the services' CPU fault at full intensity (one core burnt in the process):
    a deterministic saturation, where order traffic on this shared 2-core machine reaches only
    0.6-0.8 core depending on what else runs (`make chaos-spike` is the traffic version)."""
    api, prom = stack.api, stack.prom
    OVERLOAD.clear()
    assert len(containers("orders")) == 1
    wait_past_grace("orders")
    wait_quiet(api, "orders", "cpu")
    timing = start_fault(
        api, "3 orders CPU overload -> scale", "orders", "cpu", intensity=1.0, duration_s=300
    )
    started = timing.fault_at
    watch = ScaleUpWatch(api, prom, "orders", started)
    try:
        try:
            action = wait_for(api, "orders", started, "a scale_up of orders", watch, 240)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n  orders CPU peak {watch.peak:.2f} cores") from None
        timing.action_at = action["created_at"]
        anomaly = find_anomaly(api, "orders", "cpu", started, "info")
        timing.anomaly_at = anomaly["opened_at"] if anomaly else None
        wait_until(
            "two orders replicas scraped by Prometheus",
            lambda: (prom.value('count(up{job="services",service="orders"} == 1)') or 0) >= 2,
            90, 2,
        )  # fmt: skip

        def shares() -> dict[str, float] | None:
            rows = prom.query(
                "sum by (container) (rate(http_server_request_duration_seconds_count"
                '{job="services",service="orders"}[30s]))'
            )
            rates = {r["metric"].get("container", "?"): float(r["value"][1]) for r in rows}
            total = sum(rates.values())
            if len(rates) < 2 or total <= 0:
                return None
            share = {name: rate / total for name, rate in rates.items()}
            return share if min(share.values()) >= 0.2 else None

        share = wait_until("every orders replica to serve >= 20% of traffic", shares, 90, 3)
        timing.note = "shares " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(share.items()))
    finally:
        # The gateway spreads DELETEs too: repeat until the burning replica got one.
        for _ in range(20):
            if api.clear("orders") > 0:
                break
    OVERLOAD.append(Overload(time.time(), timing, watch.peak))


@pytest.mark.timeout(600)
def test_orders_scales_back_down_after_the_overload(stack: Stack) -> None:
    """Scenario 3b: the overload of 3a stopped -> scale_down to the minimum (one replica)."""
    if not OVERLOAD:
        pytest.fail("scenario 3a did not get as far as stopping its overload", pytrace=False)
    api, (overload,) = stack.api, OVERLOAD
    down = wait_for(
        api, "orders", overload.stopped, "a scale_down of orders after the overload stopped",
        lambda: find_action(api, "orders", "scale_down", overload.stopped), 360,
    )  # fmt: skip
    wait_until("orders back to one replica", lambda: len(containers("orders")) == 1, 60, 2)
    timing = overload.timing
    timing.normal_at = time.time()
    timing.note += (
        f"; CPU peak {overload.peak:.2f}; "
        f"scale_down at +{down['created_at'] - overload.stopped:.0f}s after stop"
    )


@pytest.mark.timeout(600)
def test_broken_policies_edit_is_reported_and_last_good_policies_keep_acting(
    stack: Stack,
) -> None:
    """Scenario 6: an invalid policies.yml -> error in /status; previous policies still act."""
    api, prom = stack.api, stack.prom
    path = Path(stack.policy_dir) / "policies.yml"
    original = path.read_text()
    good_version = api.policy_file().version
    try:
        path.write_text(
            original + '\n  - name: broken_edit\n    condition: "latency >>> 0.5"\n'
            "    action: restart_container\n    service: users\n"
        )

        def reported() -> PolicyFile | None:
            policies = api.policy_file()
            return policies if policies.valid is False and policies.error else None

        policies = wait_until("/status to report the invalid file", reported, 60, 1)
        assert policies.version == good_version, "an invalid file must not take effect"
        REPORT.facts["invalid policies error (GET /status)"] = policies.error

        wait_past_grace("users")
        # Scenario 4 restarted users minutes ago: one restart per target per window (seen: the
        # restart came 114 s after the fault, held by target_cooldown, against a 120 s wait).
        wait_cooldowns_over(api, "users_error_rate_restart")
        wait_quiet(api, "users", "error_rate")
        timing = start_fault(
            api, "6 invalid policies; users errors", "users", "errors", rate=0.6, status=503
        )
        started = timing.fault_at
        wait_detected(api, timing, "users", "error_rate")
        action = wait_for(
            api, "users", started, "a restart of users by the last good policies",
            lambda: find_action(api, "users", "restart_container", started), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]
        assert action["policy_version"] == good_version
        assert api.policy_file().valid is False  # still broken on disk

        def normal() -> bool:
            ratio = prom.error_ratio("users")
            return ratio is not None and ratio < 0.05

        wait_until("users error ratio < 5%", normal, 120, 1)
        timing.normal_at = time.time()
        wrong = restarts_of(api, "orders", started)
        timing.note = f"wrong-target restarts: {len(wrong)}"
        assert wrong == [], f"orders (a victim of users) restarted: {wrong}"
    finally:
        path.write_text(original)
        api.clear("users")
    wait_until(
        "the restored file to be valid again",
        lambda: api.policy_file().valid is True, 60, 1,
    )  # fmt: skip
