"""Pure rules of the Swarm backend: eligibility of a service, tasks as replicas, completion."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policy_engine.actuator.swarm_selection import (
    TaskView,
    all_replaced,
    current_tasks,
    match_task,
    replicas_of,
    restart_condition,
    running_count,
    service_ineligibility,
    task_name,
)
from policy_engine.config import Settings


def spec(name: str = "relia_orders", **labels: str) -> dict[str, Any]:
    base = {"com.docker.stack.namespace": "relia", "relia.remediation": "enabled"}
    return {
        "Name": name,
        "Labels": {**base, **labels},
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {"Labels": {}}},
    }


def task(tid: str, slot: int, state: str = "running", desired: str = "running") -> dict[str, Any]:
    return {
        "ID": tid,
        "Slot": slot,
        "DesiredState": desired,
        "NodeID": "n1",
        "CreatedAt": "2026-11-30T10:00:00.5Z",
        "Status": {
            "State": state,
            "Timestamp": "2026-11-30T10:00:02Z",
            "ContainerStatus": {"ContainerID": "c" * 63 + tid[-1]},
        },
    }


def test_an_opted_in_service_of_the_stack_is_eligible() -> None:
    assert service_ineligibility(spec(), "relia", "orders") is None


def test_refusals_say_why() -> None:
    assert "no stack" in str(service_ineligibility(spec(), "", "orders"))
    assert "is not 'orders'" in str(service_ineligibility(spec("relia_users"), "relia", "orders"))
    other = spec(**{"com.docker.stack.namespace": "other"})
    assert "not in stack" in str(service_ineligibility(other, "relia", "orders"))
    no_label = spec(**{"relia.remediation": "no"})
    assert "opt-in" in str(service_ineligibility(no_label, "relia", "orders"))
    engine = spec(**{"relia.role": "policy-engine"})
    assert "own service" in str(service_ineligibility(engine, "relia", "orders"))
    in_container = spec()
    in_container["TaskTemplate"]["ContainerSpec"]["Labels"] = {"relia.role": "policy-engine"}
    assert "own service" in str(service_ineligibility(in_container, "relia", "orders"))
    mine = service_ineligibility(
        spec(), "relia", "orders", ["abc123def456" + "0" * 52], ["abc123def456"]
    )
    assert mine is not None
    assert "own service" in mine
    # a stack name that only starts like ours is another stack
    assert service_ineligibility(spec("reliax_orders"), "relia", "orders") is not None


def test_current_tasks_keep_only_what_the_orchestrator_wants_running() -> None:
    tasks = [
        task("t2", 2),
        task("t1", 1),
        task("old1", 1, state="shutdown", desired="shutdown"),
        task("gone", 3, state="running", desired="shutdown"),  # being stopped by a scale-down
        task("new3", 3, state="pending"),
        task("f", 4, state="failed"),
    ]
    views = current_tasks(tasks)
    assert [(v.id, v.slot, v.state) for v in views] == [
        ("t1", 1, "running"),
        ("t2", 2, "running"),
        ("new3", 3, "pending"),
    ]
    assert views[0].created_at == 1796032800.5
    assert running_count(views) == (3, 2)


def test_task_names_and_matching() -> None:
    views = current_tasks([task("abcdefghijklmnop1", 1), task("zyxwvutsrqponml2", 2)])
    assert task_name("relia_orders", views[1]) == "relia_orders.2"
    assert match_task(views, "relia_orders", "relia_orders.2") is views[1]
    assert match_task(views, "relia_orders", "abcdefghijklmnop1") is views[0]
    assert match_task(views, "relia_orders", "abcdefghij") is views[0]  # a 10-char prefix
    assert match_task(views, "relia_orders", "abc") is None  # too short to be unambiguous
    assert match_task(views, "relia_orders", "relia_users.1") is None
    assert match_task(views, "relia_orders", views[1].container_id) is views[1]


def test_all_replaced_needs_every_task_new_and_running() -> None:
    def view(tid: str, state: str = "running") -> TaskView:
        return TaskView(tid, 1, state, "running", "n", "", 0.0, None, "")

    assert all_replaced({"a", "b"}, [view("c"), view("d")], 2)
    assert not all_replaced({"a", "b"}, [view("a"), view("d")], 2)
    assert not all_replaced({"a", "b"}, [view("c"), view("d", "starting")], 2)
    assert not all_replaced({"a", "b"}, [view("c")], 2)


def test_mode_and_restart_condition() -> None:
    assert replicas_of(spec()) == 2
    assert replicas_of({"Mode": {"Global": {}}}) is None
    assert restart_condition(spec()) == "any"  # Swarm's default when unset
    on_failure = {"TaskTemplate": {"RestartPolicy": {"Condition": "on-failure"}}}
    assert restart_condition(on_failure) == "on-failure"


def test_the_backend_setting_is_checked() -> None:
    assert Settings().actuator_backend == "docker"
    assert Settings(actuator_backend="swarm").actuator_backend == "swarm"
    with pytest.raises(ValidationError, match="docker"):
        Settings(actuator_backend="kubernetes")
