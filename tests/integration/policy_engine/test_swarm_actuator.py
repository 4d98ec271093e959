"""SwarmActuator against real Swarm services on a single-node swarm (docs/swarm.md).

The services run the stand-in python image with a tiny HTTP loop, under a stack name unique to
this run (`relia-swtest-<hex>`, set as the stack label the way `docker stack deploy` does), and
are removed at the end; the swarm is left as it was found (tests/support/swarm.py). "The daemon
hung" is a unix-socket relay in front of the real socket that answers nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from pe_support import Relay

from policy_engine.actuator import DockerActuator, RestartParams, ScaleParams, SwarmActuator
from tests.support.requirements import require_docker
from tests.support.swarm import running_slots, sh, single_node_swarm, tasks

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

T = TypeVar("T")
IMAGE = "python:3.11-slim-bookworm"
# SIGTERM ends it at once, so a graceful stop takes milliseconds, not the grace period.
SERVER = (
    "import signal, sys, http.server\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "http.server.HTTPServer(('', 8000), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def create(
    name: str, stack: str, replicas: int, *labels: str, container_labels: tuple[str, ...] = ()
) -> None:
    args = [f"--label={label}" for label in (f"com.docker.stack.namespace={stack}", *labels)]
    args += [f"--container-label={label}" for label in container_labels]
    sh(
        "docker", "service", "create", "--detach", "--name", name, *args,
        "--replicas", str(replicas), "--restart-condition", "any", "--restart-delay", "1s",
        "--stop-grace-period", "2s", "--update-parallelism", "1", "--update-order", "stop-first",
        IMAGE, "python", "-c", SERVER,
        timeout=60,
    )  # fmt: skip
    wait_running(name, replicas)


def wait_running(name: str, count: int, timeout_s: float = 90.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        slots = running_slots(name)
        if len(slots) == count:
            return slots
        time.sleep(0.5)
    raise AssertionError(f"{name}: not {count} running tasks within {timeout_s}s: {tasks(name)}")


def version(name: str) -> int:
    out = sh("docker", "service", "inspect", "--format", "{{json .Version.Index}}", name)
    return int(json.loads(out))


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    require_docker()
    stack = f"relia-swtest-{secrets.token_hex(3)}"
    with single_node_swarm():
        try:
            yield stack
        finally:
            names = sh("docker", "service", "ls", "-q", "--filter", f"name={stack}_", check=False)
            if names.split():
                sh("docker", "service", "rm", *names.split(), check=False, timeout=120)
            # tasks' containers go shortly after the service; wait so the swarm leaves clean
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                left = sh(
                    "docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={stack}"
                )
                if not left.split():
                    break
                time.sleep(0.5)


def actuator(**kwargs: Any) -> SwarmActuator:
    settings: dict[str, Any] = {
        "call_timeout_s": 30.0,
        "ready_timeout_s": 90.0,
        "poll_interval_s": 0.3,
    }
    settings.update(kwargs)
    stack = settings.pop("stack")
    return SwarmActuator(stack, self_ids=settings.pop("self_ids", ()), **settings)


def test_restart_replaces_one_task_of_three_and_the_others_keep_their_ids(stack: str) -> None:
    name = f"{stack}_web"
    create(name, stack, 3, "relia.remediation=enabled")
    act = actuator(stack=stack)
    try:
        before = running_slots(name)
        listed = run(act.list_targets("web"))
        assert sorted(t.name for t in listed) == [f"{name}.1", f"{name}.2", f"{name}.3"]
        assert {t.id for t in listed} == set(before.values())
        t0 = time.time()
        outcome = run(act.restart(RestartParams(service="web", container=f"{name}.2")))
        assert outcome.status == "succeeded", outcome
        assert outcome.targets == [f"{name}.2"]
        after = running_slots(name)
        assert after[1] == before[1]
        assert after[3] == before[3]  # the others kept serving
        assert after[2] != before[2]
        # what start-up recovery reads: the slot's name with a start after the record
        again = {t.name: t for t in run(act.list_targets("web"))}
        started = again[f"{name}.2"].started_at
        assert started is not None
        assert started > t0 - 1
        assert again[f"{name}.1"].started_at is not None
        assert again[f"{name}.1"].started_at < t0  # type: ignore[operator]

        # by task id too, and a task that is not current is refused, untouched
        by_id = run(act.restart(RestartParams(service="web", container=after[3])))
        assert by_id.status == "succeeded", by_id
        stale = run(act.restart(RestartParams(service="web", container=before[2])))
        assert stale.status == "failed"
        assert "not a current task" in str(stale.error)

        # the whole service: a rolling replacement of every task
        current = running_slots(name)
        rolled = run(act.restart(RestartParams(service="web")))
        assert rolled.status == "succeeded", rolled
        final = running_slots(name)
        assert len(final) == 3
        assert not set(final.values()) & set(current.values())
    finally:
        act.close()


def test_scale_up_and_down_within_bounds(stack: str) -> None:
    name = f"{stack}_api"
    create(name, stack, 1, "relia.remediation=enabled")
    act = actuator(stack=stack)
    bounds = {"min_replicas": 1, "max_replicas": 2}
    try:
        up = run(act.scale(ScaleParams(service="api", direction="up", step=3, **bounds)))
        assert up.status == "succeeded", up
        assert (up.replicas_before, up.replicas_after) == (1, 2)
        assert up.targets == [f"{name}.2"]
        assert len(running_slots(name)) == 2
        at_max = run(act.scale(ScaleParams(service="api", direction="up", **bounds)))
        assert at_max.status == "noop"
        assert "max_replicas=2" in at_max.detail
        assert len(running_slots(name)) == 2

        down = run(act.scale(ScaleParams(service="api", direction="down", **bounds)))
        assert down.status == "succeeded", down
        assert (down.replicas_before, down.replicas_after) == (2, 1)
        wait_running(name, 1, 30)
        at_min = run(act.scale(ScaleParams(service="api", direction="down", **bounds)))
        assert at_min.status == "noop"
        assert "min_replicas=1" in at_min.detail
    finally:
        act.close()


def test_refuses_outside_the_stack_without_the_label_and_its_own_service(stack: str) -> None:
    other = f"{stack}x"  # another stack whose service name starts like ours
    create(f"{stack}_plain", stack, 1)
    create(f"{stack}_engine", stack, 1, "relia.remediation=enabled", "relia.role=policy-engine")
    create(f"{other}_web", other, 1, "relia.remediation=enabled")
    create(f"{stack}_me", stack, 1, "relia.remediation=enabled")
    me = tasks(f"{stack}_me")[0]["Status"]["ContainerStatus"]["ContainerID"]
    act = actuator(stack=stack, self_ids=[me])
    cases = {
        "plain": "no opt-in service label",
        "engine": "policy engine's own service",
        "me": "policy engine's own service",
        "nothing": "no service",
    }
    watched = [f"{stack}_plain", f"{stack}_engine", f"{other}_web", f"{stack}_me"]
    try:
        versions = {n: version(n) for n in watched}
        slots = {n: running_slots(n) for n in watched}
        for service, why in cases.items():
            assert run(act.list_targets(service)) == []
            restart = run(act.restart(RestartParams(service=service)))
            assert restart.status == "failed", (service, restart)
            assert why in str(restart.error), (service, restart)
            scale = run(act.scale(ScaleParams(service=service, direction="up")))
            assert scale.status == "failed", (service, scale)
            assert why in str(scale.error), (service, scale)
        # another stack's task, asked for by its full name under our stack: refused too
        foreign = run(act.restart(RestartParams(service="web", container=f"{other}_web.1")))
        assert foreign.status == "failed", foreign
        assert {n: version(n) for n in watched} == versions
        assert {n: running_slots(n) for n in watched} == slots
    finally:
        act.close()


@pytest.fixture
def relay_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="relia-swtest-")  # short: unix socket paths max ~100 chars
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_compose_engine_never_takes_a_task_with_its_projects_labels_for_a_replica(
    stack: str,
) -> None:
    """A task started from an image `docker compose build` made inherits the image's compose
    labels. Seen in CI: a compose engine of the same project name counted a swarm task as an
    `orders` replica, scaled its own container away, then restarted the task."""
    name = f"{stack}_lookalike"
    compose_labels = (
        f"com.docker.compose.project={stack}",
        "com.docker.compose.service=lookalike",
        "relia.remediation=enabled",
    )
    create(name, stack, 2, "relia.remediation=enabled", container_labels=compose_labels)
    compose = DockerActuator(stack, call_timeout_s=30.0, ready_timeout_s=30.0)
    try:
        before = running_slots(name)
        listed = sh("docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={stack}")
        assert len(listed.split()) == 2  # Docker's own filter does see them as the project's
        assert run(compose.list_targets("lookalike")) == []
        restart = run(compose.restart(RestartParams(service="lookalike")))
        down = run(compose.scale(ScaleParams(service="lookalike", direction="down")))
        assert (restart.status, down.status) == ("failed", "failed")
        assert "no eligible containers" in (restart.error or ""), restart
        since = time.time() - 300
        assert run(compose.changes("lookalike", since, time.time())) == []
        assert running_slots(name) == before  # neither task was touched
        # the Swarm backend of the stack does see them
        assert len(run(actuator(stack=stack).list_targets("lookalike"))) == 2
    finally:
        compose.close()
        sh("docker", "service", "rm", name, check=False)


def test_stalled_daemon_fails_clearly_without_blocking_and_recovers(
    stack: str, relay_dir: str
) -> None:
    name = f"{stack}_slow"
    create(name, stack, 2, "relia.remediation=enabled")
    sock = os.path.join(relay_dir, "docker.sock")
    relay = Relay(sock, "stall")
    act = actuator(stack=stack, docker_host=f"unix://{sock}", call_timeout_s=2.0)
    before, v0 = running_slots(name), version(name)
    try:

        async def stalled() -> tuple[Any, Any, bool, int, float]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.05)

            task = asyncio.create_task(ticker())
            t0 = time.monotonic()
            restart = await act.restart(RestartParams(service="slow", container=f"{name}.1"))
            scale = await act.scale(ScaleParams(service="slow", direction="up"))
            ping = await act.ping()
            elapsed = time.monotonic() - t0
            task.cancel()
            return restart, scale, ping, ticks, elapsed

        restart, scale, ping, ticks, elapsed = run(stalled())
        assert restart.status == "failed"
        assert "did not answer within 2s" in str(restart.error)
        assert scale.status == "failed"
        assert "did not answer within 2s" in str(scale.error)
        assert scale.replicas_after is None  # unknown, and said so
        assert ping is False
        assert elapsed < 20.0, elapsed
        assert ticks >= elapsed / 0.05 * 0.3, "the event loop stalled while Docker hung"
        assert running_slots(name) == before
        assert version(name) == v0  # nothing reached Docker

        relay.kill()
        relay = Relay(sock, "forward")
        ok = run(act.restart(RestartParams(service="slow", container=f"{name}.1")))
        assert ok.status == "succeeded", ok
        assert running_slots(name)[2] == before[2]
    finally:
        act.close()
        relay.kill()
