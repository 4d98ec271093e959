"""The Docker adapter behind the `Actuator` protocol: restart and scale compose replicas.

Every Docker call goes through `DockerCalls` (calls.py): bounded, off the event loop, so a hung
or dead daemon turns into a `failed` outcome, never a stall or an exception escaping. Blast
radius rules live in `selection.py` and are applied to every container before it is touched;
the blocking calls themselves are in `compose_calls.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from policy_engine.actuator.calls import ActionFailed
from policy_engine.actuator.clone import CloneError
from policy_engine.actuator.compose_calls import ComposeCalls
from policy_engine.actuator.outcomes import at_bound, failed, outcome, short
from policy_engine.actuator.replica import Replica, pick_template, stop_timeout
from policy_engine.actuator.selection import next_numbers, scale_down_victims, scale_target
from policy_engine.actuator.types import (
    ActionOutcome,
    ContainerChange,
    ContainerInfo,
    RestartParams,
    ScaleParams,
)

# Container states `restart` acts on; paused/dead/removing containers are left alone.
RESTARTABLE = ("running", "exited", "created", "restarting")


class DockerActuator(ComposeCalls):
    """Restart and scale the replicas of one compose project's opted-in services."""

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
            return outcome(
                started,
                "succeeded",
                done,
                f"restarted {len(done)} container(s) of {params.service}: {', '.join(done)}{note}",
                before=before,
                after=before,
            )
        except ActionFailed as exc:
            return failed(started, done, params.service, str(exc), before, before)
        except Exception as exc:  # the contract: never let an exception escape
            return failed(started, done, params.service, f"unexpected: {short(exc)}", before)

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
                    return at_bound(started, params, before)
                if params.direction == "up":
                    await self._scale_up(
                        params.service, replicas, everything, target - before, done
                    )
                else:
                    await self._scale_down(params.service, replicas, before - target, done)
                after, _ = await self._eligible(params.service)
            verb = "added" if params.direction == "up" else "removed"
            return outcome(
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
                started, done, params.service, f"unexpected: {short(exc)}", before
            )

    async def _scale_failed(
        self, started: float, done: list[str], service: str, error: str, before: int | None
    ) -> ActionOutcome:
        after: int | None = None
        # Daemon still down: the count is unknown, and None says so.
        with contextlib.suppress(Exception):
            after = len((await self._eligible(service))[0])
        return failed(started, done, service, error, before, after)

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
        template = pick_template(replicas)
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
            grace_s = stop_timeout(victim.attrs, self.default_stop_timeout_s)
            await self._call(
                f"remove {victim.name}",
                self._stop_and_remove,
                victim.id,
                grace_s,
                limit_s=self.call_timeout_s * 2 + grace_s,
            )
            done.append(victim.name)
