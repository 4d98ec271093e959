"""End-to-end on `make up-swarm`: the shipped policies drive Swarm services (docs/swarm.md).

Lean on purpose (one stack deploy, short scenarios): discovery and the gateway, a latency fault
on orders -> one task replaced -> normal, CPU overload -> scale up then down, a paused engine
and a dry-run policy honoured. Faults go through the gateway (the service's virtual IP); with
one replica per service the fault lands on that task.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos_simulator.scenario import warm_series
from policy_engine.actuator.selection import parse_rfc3339
from policy_engine.policy_model import DOCKER_ACTIONS
from tests.e2e.harness import run
from tests.e2e.report import REPORT
from tests.e2e.steps import (
    ScaleUpWatch,
    find_action,
    start_fault,
    wait_detected,
    wait_for,
    wait_quiet,
)
from tests.e2e.sync_client import wait_until
from tests.e2e_swarm.conftest import SwarmStack, task_ids
from tests.support.swarm import running_slots, tasks

pytestmark = [pytest.mark.e2e_swarm, pytest.mark.swarm]
GRACE_S = 50.0  # the shipped grace period (45 s) and a margin


def task_age(stack: SwarmStack, service: str) -> float:
    """Seconds since the youngest running task of <stack>_<service> started."""
    stamps = [
        parse_rfc3339(t["Status"]["Timestamp"]) or 0.0
        for t in tasks(stack.service(service))
        if t["DesiredState"] == "running" and t["Status"]["State"] == "running"
    ]
    return time.time() - max(stamps, default=0.0)


def past_grace(stack: SwarmStack, service: str) -> None:
    age = task_age(stack, service)
    if age < GRACE_S:
        time.sleep(GRACE_S - age)


@pytest.mark.timeout(600)
def test_discovery_and_gateway_see_the_swarm_tasks(swarm_stack: SwarmStack) -> None:
    api, prom = swarm_stack.api, swarm_stack.prom
    found = wait_until(
        "the three services scraped under their compose names",
        lambda: {r["metric"].get("service") for r in prom.query('up{job="services"} == 1')}
        >= {"orders", "users", "payments"} or None,
        120, 2,
    )  # fmt: skip
    assert found
    # Tasks run images `docker compose build` labelled with the compose project: blanked, so a
    # compose project `relia` on this engine does not take the stack's tasks for its own.
    leaked = run(
        ["docker", "ps", "-q", "--filter", "label=com.docker.compose.project=relia",
         "--filter", f"label=com.docker.stack.namespace={swarm_stack.name}"],
        timeout=30,
    ).stdout.split()  # fmt: skip
    assert leaked == [], "swarm tasks that read as containers of compose project relia"
    rows = prom.query('up{job="services",service="orders"}')
    assert [r["metric"]["container"] for r in rows] == [swarm_stack.service("orders") + ".1"]
    orders = httpx.get(swarm_stack.urls["orders"] + "/orders", params={"limit": 1}, timeout=5.0)
    assert orders.status_code == 200
    assert api.status().enabled is True
    wait_until("the anomaly service to be ready", api.ready, 180, 2)

    def warmed_up() -> bool:
        warm = warm_series(api.series())
        return {"orders", "users", "payments"} <= {service for service, _ in warm}

    wait_until("baselines to warm up", warmed_up, 300, 5)


@pytest.mark.timeout(600)
def test_latency_fault_on_orders_replaces_its_task(swarm_stack: SwarmStack) -> None:
    api, prom = swarm_stack.api, swarm_stack.prom
    past_grace(swarm_stack, "orders")

    def latency_warm() -> bool:
        return ("orders", "latency") in warm_series(api.series())

    wait_until("the orders latency baseline", latency_warm, 300, 5)
    wait_quiet(api, "orders", "latency")
    before = running_slots(swarm_stack.service("orders"))
    timing = start_fault(api, "swarm orders latency -> replace task", "orders", "latency", ms=800)
    started = timing.fault_at
    try:
        wait_detected(api, timing, "orders", "latency")
        action = wait_for(
            api, "orders", started, "a restart of orders",
            lambda: find_action(api, "orders", "restart_container", started), 120,
        )  # fmt: skip
        timing.action_at = action["created_at"]
        assert action["policy"] == "orders_high_latency_restart"
        assert swarm_stack.service("orders") in action["detail"], action
        after = running_slots(swarm_stack.service("orders"))
        assert len(after) == len(before) == 1 and after[1] != before[1]

        def normal() -> bool:
            p99 = prom.p99("orders")
            return p99 is not None and p99 < 0.3

        wait_until("orders p99 back under 0.3 s", normal, 120, 1)
        timing.normal_at = time.time()
        timing.note = f"task {before[1][:10]} -> {after[1][:10]}"
    finally:
        api.clear("orders")


@pytest.mark.timeout(900)
def test_cpu_overload_scales_orders_up_then_down(swarm_stack: SwarmStack) -> None:
    api, prom = swarm_stack.api, swarm_stack.prom
    past_grace(swarm_stack, "orders")
    wait_quiet(api, "orders", "cpu")
    timing = start_fault(
        api, "swarm orders CPU -> scale up/down", "orders", "cpu", intensity=1.0, duration_s=300
    )
    started = timing.fault_at
    orders = swarm_stack.service("orders")
    watch = ScaleUpWatch(api, prom, "orders", started)
    try:
        try:
            up = wait_for(api, "orders", started, "a scale_up of orders", watch, 240)
        except AssertionError as exc:
            # what the host gave the burning task, and what Swarm did to its tasks meanwhile
            ended = [
                f"{t.get('Slot', '?')}:{t['Status']['State']}:"
                f"{t['Status'].get('Err') or t['Status'].get('Message', '')}"
                for t in tasks(orders)
                if t["Status"]["State"] != "running"
            ]
            cpu = ", ".join(f"{c:.2f}" for c in watch.cpu[-24:])
            raise AssertionError(
                f"{exc}\n  orders CPU (cores, last): {cpu}\n  ended tasks: {ended}"
            ) from None
        timing.action_at = up["created_at"]
        wait_until("two running orders tasks", lambda: len(running_slots(orders)) == 2, 90, 2)
        wait_until(
            "two orders tasks scraped",
            lambda: (prom.value('count(up{job="services",service="orders"} == 1)') or 0) >= 2,
            90, 2,
        )  # fmt: skip
    finally:
        for _ in range(20):  # the VIP spreads DELETEs too: until the burning task got one
            if api.clear("orders") > 0:
                break
    stopped = time.time()
    down = wait_for(
        api, "orders", stopped, "a scale_down of orders",
        lambda: find_action(api, "orders", "scale_down", stopped), 360,
    )  # fmt: skip
    wait_until("one orders task again", lambda: len(running_slots(orders)) == 1, 60, 2)
    timing.normal_at = time.time()
    timing.note = (
        f"CPU peak {watch.peak:.2f}; "
        f"scale_down at +{down['created_at'] - stopped:.0f}s after the overload stopped"
    )


@pytest.mark.timeout(600)
def test_pause_and_dry_run_are_honoured(swarm_stack: SwarmStack) -> None:
    """Paused: a users latency fault is detected, skipped, nothing touched. Dry run (set on the
    users policy by editing the engine's policy file): recorded as dry_run, nothing touched."""
    api = swarm_stack.api
    past_grace(swarm_stack, "users")
    wait_quiet(api, "users", "latency")
    before = running_slots(swarm_stack.service("users"))
    assert api.toggle(False) is False  # the engine answers the state it is now in
    try:
        timing = start_fault(api, "swarm users latency, paused", "users", "latency", ms=800)
        started = timing.fault_at
        wait_detected(api, timing, "users", "latency")
        wait_for(
            api, "users", started, "a skipped (paused) restart of users",
            lambda: find_action(api, "users", "restart_container", started, outcome="skipped"),
            90,
        )  # fmt: skip
        timing.note = "paused: skipped"
        set_dry_run(Path(swarm_stack.policy_dir) / "policies.yml", "users_high_latency_restart")
        wait_until(
            "the dry-run policy loaded",
            lambda: any(p["name"] == "users_high_latency_restart" and p.get("dry_run")
                        for p in api.policies()),
            60, 2,
        )  # fmt: skip
        on_at = time.time()
        assert api.toggle(True) is True
        dry: dict[str, Any] = wait_for(
            api, "users", on_at, "a dry-run restart of users",
            lambda: find_action(api, "users", "restart_container", on_at, outcome="dry_run"), 120,
        )  # fmt: skip
        timing.action_at = dry["created_at"]
        timing.note += f"; dry run at +{dry['created_at'] - started:.0f}s: {dry['detail'][:60]}"
        assert running_slots(swarm_stack.service("users")) == before  # neither touched a task
        assert find_action(api, "users", "restart_container", started) is None
    finally:
        api.toggle(True)
        api.clear("users")


@pytest.mark.timeout(120)
def test_nothing_outside_the_opted_in_services_of_the_stack_was_touched(
    swarm_stack: SwarmStack,
) -> None:
    """Issue 14's scope target: 0 actions on services without the opt-in label or outside the
    stack, read from the engine's audit log and checked against Swarm's task history (a task
    stopped or replaced leaves an ended task behind), not from the engine's word alone. The
    compose stack beside it (CI) checks its own containers in its own scenarios."""
    stack = swarm_stack.name
    opted_in = {
        name
        for name in swarm_stack.first_tasks
        if service_labels(name).get("relia.remediation") == "enabled"
    }
    assert opted_in == {swarm_stack.service(s) for s in ("orders", "users", "payments")}
    acted = [
        a
        for a in swarm_stack.api.actions()
        if a["action"] in DOCKER_ACTIONS and a["outcome"] in ("succeeded", "failed")
    ]
    assert acted, "the scenarios before acted: the audit log must show it"
    outside = [
        f"{a['action']} {a['service']} -> {a.get('target')}"
        for a in acted
        if swarm_stack.service(a["service"]) not in opted_in
        or not (a.get("target") or swarm_stack.service(a["service"])).startswith(f"{stack}_")
    ]
    now = task_ids(stack)
    replaced = {
        name: sorted(now.get(name, set()) - ids)
        for name, ids in swarm_stack.first_tasks.items()
        if name not in opted_in and now.get(name, set()) != ids
    }
    REPORT.facts["actions outside the stack or on services without the opt-in label"] = (
        f"{len(outside)} of {len(acted)} actions; tasks of the {len(replaced)} of "
        f"{len(swarm_stack.first_tasks) - len(opted_in)} other services replaced"
    )
    assert outside == []
    assert replaced == {}, "a service without the opt-in label had a task stopped or replaced"


def service_labels(name: str) -> dict[str, str]:
    out = run(["docker", "service", "inspect", "--format", "{{json .Spec.Labels}}", name],
              timeout=30).stdout  # fmt: skip
    return dict(json.loads(out) or {})


def set_dry_run(path: Path, policy: str) -> None:
    data = yaml.safe_load(path.read_text())
    for item in data["policies"]:
        if item["name"] == policy:
            item["dry_run"] = True
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)
    REPORT.facts.setdefault("dry run", f"set on {policy}")
