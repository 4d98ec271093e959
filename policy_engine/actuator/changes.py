"""A service's container lifecycle events (start, die, oom, ...) as `ContainerChange`s."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import docker

from policy_engine.actuator.types import ContainerChange

# Container lifecycle events worth a human's attention (exec_*, attach, ... are not).
CHANGE_ACTIONS = frozenset({"create", "start", "restart", "die", "kill", "oom", "stop", "destroy"})
MAX_EVENTS_READ = 5000  # bounded read of Docker's event buffer
MAX_CHANGES = 200


def read_changes(
    api: docker.APIClient,
    labels: Mapping[str, str],
    since: float,
    until: float,
    without: Iterable[str] = (),
) -> list[ContainerChange]:
    """The events of containers carrying every one of `labels` and none of the label keys
    `without` (blocking: run on the pool).

    Docker keeps recent events (about its last thousand); `until` ends the stream."""
    absent = tuple(without)
    stream = api.events(
        since=int(since),
        until=int(until) + 1,
        filters={"type": "container", "label": [f"{k}={v}" for k, v in labels.items()]},
        decode=True,
    )
    out: list[ContainerChange] = []
    for event in itertools.islice(stream, MAX_EVENTS_READ):
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        action = str(event.get("Action") or event.get("status") or "")
        same = all(attrs.get(k) == v for k, v in labels.items())
        same = same and not any(attrs.get(k) for k in absent)
        if not same or action not in CHANGE_ACTIONS:
            continue
        code = attrs.get("exitCode")
        out.append(
            ContainerChange(
                at=event.get("timeNano", 0) / 1e9 or float(event.get("time", 0)),
                action=action,
                container=str(attrs.get("name", "")),
                image=str(attrs.get("image", "")),
                exit_code=int(code) if isinstance(code, str) and code.isdigit() else None,
            )
        )
    return out[-MAX_CHANGES:]
