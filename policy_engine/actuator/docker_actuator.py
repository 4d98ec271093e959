"""The Docker adapter behind the `Actuator` protocol: restart and scale compose replicas.

Every Docker call goes through `DockerCalls` (calls.py): bounded, off the event loop, so a hung
or dead daemon turns into a `failed` outcome, never a stall or an exception escaping. Blast
radius rules live in `selection.py` and are applied here to every container before it is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from policy_engine.actuator.calls import (
    ActionFailed,
    DockerCalls,
    _failed,
    _outcome,
    _short,
)
from policy_engine.actuator.clone import CloneError, build_clone
from policy_engine.actuator.selection import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    Candidate,
    container_number,
    ineligibility_reason,
    next_numbers,
    parse_rfc3339,
    scale_down_victims,
    scale_target,
)
from policy_engine.actuator.types import (
    ActionOutcome,
    ContainerChange,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)

# Container states `restart` acts on; paused/dead/removing containers are left alone.
RESTARTABLE = ("running", "exited", "created", "restarting")


# Container lifecycle events worth a human's attention (exec_*, attach, ... are not).
CHANGE_ACTIONS = frozenset({"create", "start", "restart", "die", "kill", "oom", "stop", "destroy"})
MAX_EVENTS_READ = 5000  # bounded read of Docker's event buffer
MAX_CHANGES = 200


@dataclass
class Replica:
    """One container of a compose service, as read from `docker inspect`."""

    id: str
    name: str
    service: str
    number: int
    state: str
    health: str | None
    started_raw: str
    started_at: float | None
    created_at: float
    attrs: dict[str, Any]

    def info(self) -> ContainerInfo:
        return ContainerInfo(
            id=self.id,
            name=self.name,
            service=self.service,
            number=self.number,
            state=self.state,
            health=self.health,
            started_at=self.started_at,
            created_at=self.created_at,
        )


def _replica(attrs: dict[str, Any]) -> Replica:
    state = attrs.get("State") or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    health = (state.get("Health") or {}).get("Status")
    return Replica(
        id=str(attrs["Id"]),
        name=str(attrs.get("Name", "")).lstrip("/"),
        service=str(labels.get(SERVICE_LABEL, "")),
        number=container_number(labels),
        state=str(state.get("Status", "unknown")),
        health=str(health) if health else None,
        started_raw=str(state.get("StartedAt") or ""),
        started_at=parse_rfc3339(state.get("StartedAt")),
        created_at=parse_rfc3339(attrs.get("Created")) or 0.0,
        attrs=attrs,
    )


class DockerActuator(DockerCalls):
    """Restart and scale the replicas of one compose project's opted-in services."""

    def __init__(
        self,
        project: str,
        *,
        docker_host: str | None = None,
        client_factory: Callable[[], docker.DockerClient] | None = None,
        call_timeout_s: float = 10.0,
        ready_timeout_s: float = 30.0,
        poll_interval_s: float = 0.5,
        default_stop_timeout_s: float = 10.0,
        self_ids: Iterable[str] | None = None,
        hostname: str | None = None,
        max_workers: int = 4,
    ) -> None:
        if not project:
            raise ValueError("DockerActuator needs the compose project name")
        super().__init__(
            docker_host=docker_host,
            client_factory=client_factory,
            call_timeout_s=call_timeout_s,
            self_ids=self_ids,
            hostname=hostname,
            max_workers=max_workers,
        )
        self.project = project
        self.ready_timeout_s = ready_timeout_s
        self.poll_interval_s = poll_interval_s
        self.default_stop_timeout_s = default_stop_timeout_s

    def _none_eligible(self, service: str) -> str:
        return (
            f"no eligible containers for service {service!r} in compose project "
            f"{self.project!r} (they need the label relia.remediation=enabled)"
        )

    # ---- blocking primitives (run on the pool) --------------------------------------------

    def _service_replicas(self, service: str) -> list[tuple[Replica, str | None]]:
        """Every container of project/service, each with the reason it is off-limits (or None)."""
        api = self._client().api
        labels = [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]
        out = []
        for summary in api.containers(all=True, filters={"label": labels}):
            try:
                attrs = api.inspect_container(summary["Id"])
            except docker.errors.NotFound:
                continue  # removed between list and inspect
            replica = _replica(attrs)
            out.append((replica, self._reason(replica, service)))
        return sorted(out, key=lambda pair: pair[0].number)

    def _reason(self, replica: Replica, service: str | None) -> str | None:
        labels = (replica.attrs.get("Config") or {}).get("Labels") or {}
        candidate = Candidate(id=replica.id, name=replica.name, labels=labels)
        return ineligibility_reason(
            candidate, self.project, self._self_ids, self._hostname, service
        )

    def _explain(self, ref: str, service: str) -> str:
        """Why a container asked for by name/id is not a target (read-only lookup)."""
        try:
            attrs = self._client().api.inspect_container(ref)
        except docker.errors.NotFound:
            return f"no container named {ref!r}"
        reason = self._reason(_replica(attrs), service)
        return reason or "not an eligible replica"

    def _inspect(self, container_id: str) -> Replica:
        return _replica(self._client().api.inspect_container(container_id))

    def _restart(self, container_id: str, stop_timeout_s: float) -> None:
        self._client().api.restart(container_id, timeout=round(stop_timeout_s))

    def _image_ref(self, template: dict[str, Any]) -> str:
        """The template's image by name when the tag still points at it, else by id."""
        name = str((template.get("Config") or {}).get("Image") or "")
        image_id = str(template.get("Image") or "")
        try:
            if name and self._client().api.inspect_image(name).get("Id") == image_id:
                return name
        except docker.errors.ImageNotFound:
            pass
        return image_id or name

    def _create_and_start(self, template: dict[str, Any], service: str, number: int) -> str:
        api = self._client().api
        spec = build_clone(template, self.project, service, number, self._image_ref(template))
        created = api.create_container_from_config(spec.config, name=spec.name)
        container_id = str(created["Id"])
        try:
            for network, endpoint in spec.extra_networks.items():
                api.connect_container_to_network(
                    container_id,
                    network,
                    aliases=endpoint.get("Aliases"),
                    links=endpoint.get("Links"),
                    driver_opt=endpoint.get("DriverOpts"),
                )
            api.start(container_id)
        except Exception:
            # Never leave a half-made replica behind: compose would not count it as one either.
            with contextlib.suppress(Exception):
                api.remove_container(container_id, force=True, v=True)
            raise
        return spec.name

    def _stop_and_remove(self, container_id: str, stop_timeout_s: float) -> None:
        api = self._client().api
        try:
            api.stop(container_id, timeout=round(stop_timeout_s))
            api.remove_container(container_id, v=True)
        except docker.errors.NotFound:
            pass  # already gone: the goal (fewer replicas) is met

    def _events(self, service: str, since: float, until: float) -> list[ContainerChange]:
        """Docker keeps recent events (about its last thousand); `until` ends the stream."""
        labels = [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]
        stream = self._client().api.events(
            since=int(since),
            until=int(until) + 1,
            filters={"type": "container", "label": labels},
            decode=True,
        )
        out: list[ContainerChange] = []
        for event in itertools.islice(stream, MAX_EVENTS_READ):
            attrs = (event.get("Actor") or {}).get("Attributes") or {}
            action = str(event.get("Action") or event.get("status") or "")
            same = attrs.get(PROJECT_LABEL) == self.project and attrs.get(SERVICE_LABEL) == service
            if not same or action not in CHANGE_ACTIONS:
                continue
            at = event.get("timeNano", 0) / 1e9 or float(event.get("time", 0))
            code = attrs.get("exitCode")
            out.append(
                ContainerChange(
                    at=at,
                    action=action,
                    container=str(attrs.get("name", "")),
                    image=str(attrs.get("image", "")),
                    exit_code=int(code) if isinstance(code, str) and code.isdigit() else None,
                )
            )
        return out[-MAX_CHANGES:]

    # ---- Actuator protocol ----------------------------------------------------------------

    async def changes(self, service: str, since: float, until: float) -> list[ContainerChange]:
        """The service's container lifecycle events (start, die, oom, ...): a redeploy, a crash
        or a restart by anyone, for the triage packet. Read on demand, nothing is kept here."""
        return await self._call(
            "events", self._events, service, since, until, limit_s=self.call_timeout_s
        )

    async def list_targets(self, service: str) -> list[ContainerInfo]:
        """Eligible containers of `service`; empty when Docker is unreachable."""
        try:
            pairs = await self._call(
                "list", self._service_replicas, service, limit_s=self.call_timeout_s
            )
        except ActionFailed:
            return []
        return [replica.info() for replica, reason in pairs if reason is None]

    async def _eligible(self, service: str) -> tuple[list[Replica], list[Replica]]:
        pairs = await self._call(
            f"list {service}", self._service_replicas, service, limit_s=self.call_timeout_s
        )
        return [r for r, reason in pairs if reason is None], [r for r, _ in pairs]

    async def restart(self, params: RestartParams) -> ActionOutcome:
        started = time.monotonic()
        done: list[str] = []
        before: int | None = None
        try:
            async with self._lock(params.service):
                replicas, _ = await self._eligible(params.service)
                before = len(replicas)
                targets = await self._restart_targets(params, replicas)
                for index, replica in enumerate(targets):
                    await self._call(
                        f"restart {replica.name}",
                        self._restart,
                        replica.id,
                        params.stop_timeout_s,
                        limit_s=self.call_timeout_s + params.stop_timeout_s,
                    )
                    # Rolling: the next replica goes down only once this one is healthy again.
                    rolling_on = index < len(targets) - 1
                    await self._wait_running(
                        replica.id, replica.name, replica.started_raw, rolling_on, "restart"
                    )
                    done.append(replica.name)
            skipped = [f"{r.name} ({r.state})" for r in replicas if r.state not in RESTARTABLE]
            note = f"; skipped {', '.join(skipped)}" if skipped and not params.container else ""
            return _outcome(
                started,
                "succeeded",
                done,
                f"restarted {len(done)} container(s) of {params.service}: {', '.join(done)}{note}",
                before=before,
                after=before,
            )
        except ActionFailed as exc:
            return _failed(started, done, params.service, str(exc), before, before)
        except Exception as exc:  # the contract: never let an exception escape
            return _failed(started, done, params.service, f"unexpected: {_short(exc)}", before)

    async def _restart_targets(
        self, params: RestartParams, replicas: list[Replica]
    ) -> list[Replica]:
        if params.container:
            ref = params.container
            match = [
                r
                for r in replicas
                if ref in (r.name, r.id) or (len(ref) >= 12 and r.id.startswith(ref))
            ]
            if not match:
                why = await self._call(
                    f"look up {ref}",
                    self._explain,
                    ref,
                    params.service,
                    limit_s=self.call_timeout_s,
                )
                raise ActionFailed(f"refused: {ref!r} is not an eligible target: {why}")
            targets = match[:1]
        else:
            targets = replicas
            if not targets:
                raise ActionFailed(self._none_eligible(params.service))
        bad = [r for r in targets if r.state not in RESTARTABLE]
        good = [r for r in targets if r.state in RESTARTABLE]
        if bad and (params.container or not good):
            states = ", ".join(f"{r.name} is {r.state}" for r in bad)
            raise ActionFailed(f"{states}; restart handles {', '.join(RESTARTABLE)} containers")
        return good

    async def _wait_running(
        self, ref: str, name: str, previous_start: str, need_healthy: bool, after: str
    ) -> Replica:
        """Poll until the container runs (StartedAt moved on), and is healthy if asked."""
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            current = await self._call(
                f"inspect {name}", self._inspect, ref, limit_s=self.call_timeout_s
            )
            fresh = current.started_raw != previous_start and current.started_at is not None
            healthy = not need_healthy or current.health in (None, "healthy")
            if fresh and current.state == "running" and healthy:
                return current
            if fresh and current.state in ("exited", "dead"):
                code = (current.attrs.get("State") or {}).get("ExitCode")
                raise ActionFailed(f"{name} exited right after {after} (exit code {code})")
            if time.monotonic() >= deadline:
                what = "healthy" if fresh and current.state == "running" else "running"
                raise ActionFailed(
                    f"{name} not {what} within {self.ready_timeout_s:.0f}s after {after} "
                    f"(state={current.state}, health={current.health})"
                )
            await asyncio.sleep(self.poll_interval_s)

    async def scale(self, params: ScaleParams) -> ActionOutcome:
        started = time.monotonic()
        done: list[str] = []
        before: int | None = None
        try:
            async with self._lock(params.service):
                replicas, everything = await self._eligible(params.service)
                before = len(replicas)
                if not replicas:
                    raise ActionFailed(self._none_eligible(params.service))
                target = scale_target(
                    before, params.direction, params.step, params.min_replicas, params.max_replicas
                )
                if target == before:
                    bound = "max_replicas" if params.direction == "up" else "min_replicas"
                    limit = params.max_replicas if params.direction == "up" else params.min_replicas
                    return _outcome(
                        started,
                        "noop",
                        [],
                        f"{params.service} already at {bound}={limit} ({before} replicas)",
                        before=before,
                        after=before,
                    )
                if params.direction == "up":
                    await self._scale_up(
                        params.service, replicas, everything, target - before, done
                    )
                else:
                    await self._scale_down(params.service, replicas, before - target, done)
                after, _ = await self._eligible(params.service)
            verb = "added" if params.direction == "up" else "removed"
            return _outcome(
                started,
                "succeeded",
                done,
                f"{verb} {', '.join(done)}; {params.service} {before} -> {len(after)} replicas",
                before=before,
                after=len(after),
            )
        except ActionFailed as exc:
            return await self._scale_failed(started, done, params.service, str(exc), before)
        except Exception as exc:
            return await self._scale_failed(
                started, done, params.service, f"unexpected: {_short(exc)}", before
            )

    async def _scale_failed(
        self, started: float, done: list[str], service: str, error: str, before: int | None
    ) -> ActionOutcome:
        after: int | None = None
        # Daemon still down: the count is unknown, and None says so.
        with contextlib.suppress(Exception):
            after = len((await self._eligible(service))[0])
        return _failed(started, done, service, error, before, after)

    async def _scale_up(
        self,
        service: str,
        replicas: list[Replica],
        everything: list[Replica],
        count: int,
        done: list[str],
    ) -> None:
        if not replicas:
            raise ActionFailed(
                f"no eligible replica of {service!r} to clone; start it with compose first"
            )
        template = _pick_template(replicas)
        numbers = next_numbers((r.number for r in everything), count)
        for number in numbers:
            try:
                name = await self._call(
                    f"create replica {number} of {service}",
                    self._create_and_start,
                    template.attrs,
                    service,
                    number,
                    limit_s=self.call_timeout_s * 3,
                )
            except CloneError as exc:
                raise ActionFailed(str(exc)) from None
            done.append(name)
        # A replica counts once it runs (and passes its health check, if it has one).
        for name in done:
            await self._wait_running(name, name, "", True, "scale up")

    async def _scale_down(
        self, service: str, replicas: list[Replica], count: int, done: list[str]
    ) -> None:
        victims = scale_down_victims(((r.number, r) for r in replicas), count)
        for victim in victims:
            stop_timeout = _stop_timeout(victim.attrs, self.default_stop_timeout_s)
            await self._call(
                f"remove {victim.name}",
                self._stop_and_remove,
                victim.id,
                stop_timeout,
                limit_s=self.call_timeout_s * 2 + stop_timeout,
            )
            done.append(victim.name)


def _pick_template(replicas: list[Replica]) -> Replica:
    """A healthy running replica if any (lowest number), else a running one, else any."""

    def rank(r: Replica) -> tuple[int, int]:
        running = r.state == "running"
        healthy = running and r.health in (None, "healthy")
        return (0 if healthy else 1 if running else 2, r.number)

    return min(replicas, key=rank)


def _stop_timeout(attrs: dict[str, Any], default: float) -> float:
    """The service's stop_grace_period (compose stores it as Config.StopTimeout)."""
    value = (attrs.get("Config") or {}).get("StopTimeout")
    return float(value) if isinstance(value, int | float) and value >= 0 else default
