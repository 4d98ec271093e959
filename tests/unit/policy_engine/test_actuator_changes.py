"""read_changes: which of Docker's container events count as a service's lifecycle changes."""

from __future__ import annotations

from typing import Any

from policy_engine.actuator.changes import read_changes

COMPOSE = {"com.docker.compose.project": "relia", "com.docker.compose.service": "orders"}


def event(action: str, name: str, at: float, **attrs: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "timeNano": int(at * 1e9),
        "Actor": {"Attributes": {"name": name, "image": "relia-services", **attrs}},
    }


class Events:
    """The one call read_changes makes, answering a fixed list (Docker filters by label too,
    but the function must not rely on it)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events_ = events
        self.filters: dict[str, Any] = {}

    def events(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.filters = kwargs["filters"]
        return self.events_


def test_only_lifecycle_events_of_containers_with_every_label_count() -> None:
    api = Events([
        event("die", "relia-orders-1", 10.0, exitCode="137", **COMPOSE),
        event("exec_start: sh", "relia-orders-1", 11.0, **COMPOSE),
        event("start", "relia-users-1", 12.0, **{**COMPOSE, "com.docker.compose.service": "users"}),
        event("start", "relia-orders-1", 13.0, **COMPOSE),
    ])  # fmt: skip
    changes = read_changes(api, COMPOSE, 0.0, 20.0)  # type: ignore[arg-type]
    assert [(c.action, c.container, c.exit_code, c.at) for c in changes] == [
        ("die", "relia-orders-1", 137, 10.0),
        ("start", "relia-orders-1", None, 13.0),
    ]
    assert sorted(api.filters["label"]) == sorted(f"{k}={v}" for k, v in COMPOSE.items())


def test_containers_carrying_an_excluded_label_key_do_not_count() -> None:
    """A swarm task built from the project's image carries its compose labels as well."""
    task = {**COMPOSE, "com.docker.swarm.service.name": "relia-ci_orders"}
    api = Events([
        event("kill", "relia-ci_orders.1.abc", 10.0, **task),
        event("restart", "relia-orders-1", 11.0, **COMPOSE),
        event("die", "relia-ci_orders.1.abc", 12.0, **{**task, "exitCode": "0"}),
    ])  # fmt: skip
    changes = read_changes(api, COMPOSE, 0.0, 20.0, ("com.docker.swarm.service.name",))  # type: ignore[arg-type]
    assert [(c.action, c.container) for c in changes] == [("restart", "relia-orders-1")]
    # without the exclusion the same stream counts the task's events
    assert len(read_changes(api, COMPOSE, 0.0, 20.0)) == 3  # type: ignore[arg-type]
