"""DockerActuator against the real Docker engine and a real `docker compose` project.

The fixture project (tests/fixtures/compose_project) runs under a name unique to this session,
`relia-acttest-<hex>`, and is removed with `docker compose down -v` at the end, even on failure.
"The daemon stopped / hung" is simulated with a unix-socket relay in front of the real daemon's
socket (killed, or answering nothing); the machine's dockerd is never stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pe_support import Relay

from policy_engine.actuator import DockerActuator, RestartParams, ScaleParams
from policy_engine.actuator.selection import parse_rfc3339
from tests.support.requirements import require_compose

pytestmark = pytest.mark.docker

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "compose_project"
T = TypeVar("T")


@dataclass
class Stack:
    project: str
    env: dict[str, str]

    def name(self, service: str, number: int) -> str:
        return f"{self.project}-{service}-{number}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def sh(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180, check: bool = True
) -> str:
    done = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, env=env, cwd=FIXTURE
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def compose(stack: Stack, *args: str, timeout: float = 240) -> str:
    return sh(
        "docker",
        "compose",
        "-p",
        stack.project,
        "-f",
        str(FIXTURE / "docker-compose.yml"),
        *args,
        env=stack.env,
        timeout=timeout,
    )


def inspect(name: str) -> dict[str, Any]:
    """`docker inspect` through the CLI: a view independent of the actuator's SDK client."""
    return dict(json.loads(sh("docker", "inspect", name, timeout=30))[0])


def ps_names(stack: Stack) -> list[str]:
    out = compose(stack, "ps", "-a", "--format", "{{.Name}}", timeout=60)
    return sorted(line for line in out.splitlines() if line.strip())


def started(name: str) -> str:
    return str(inspect(name)["State"]["StartedAt"])


def wait_for(predicate: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def hostnames_behind_alias(stack: Stack, want: set[str], timeout_s: float = 60.0) -> set[str]:
    """Hit http://web:8000/ from the bystander container until every `want` hostname answered."""
    code = (
        "import urllib.request\n"
        "seen = set()\n"
        "for _ in range(24):\n"
        "    try:\n"
        "        seen.add(urllib.request.urlopen('http://web:8000/', timeout=2).read().decode())\n"
        "    except OSError:\n"
        "        pass\n"
        "print(' '.join(sorted(seen)))\n"
    )
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not want <= seen:
        out = sh("docker", "exec", stack.name("bystander", 1), "python", "-c", code, timeout=60)
        seen |= set(out.split())
    return seen


def actuator(stack: Stack, **kwargs: Any) -> DockerActuator:
    settings: dict[str, Any] = {
        "call_timeout_s": 30.0,
        "ready_timeout_s": 90.0,
        "poll_interval_s": 0.3,
    }
    settings.update(kwargs)
    return DockerActuator(stack.project, hostname=os.environ.get("HOSTNAME"), **settings)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_compose()
    project = f"relia-acttest-{secrets.token_hex(4)}"
    env = {**os.environ, "RELIA_ACTTEST_IMAGE": f"{project}-web:latest"}
    env.pop("COMPOSE_PROJECT_NAME", None)
    stack = Stack(project, env)
    try:
        compose(stack, "up", "-d", "--build", "--wait", "--wait-timeout", "180", timeout=400)
        yield stack
    finally:
        sh("docker", "rm", "-f", f"{project}-foreign-web-1", check=False, timeout=60)
        compose(stack, "down", "-v", "--rmi", "all", "--timeout", "3", timeout=240)


@pytest.fixture
def fresh(stack: Stack) -> Iterator[Stack]:
    """Each test starts and ends with compose's own state: web x1 and bystander, all running."""
    compose(stack, "up", "-d", "--wait", "--wait-timeout", "120", timeout=240)
    yield stack
    compose(stack, "up", "-d", "--wait", "--wait-timeout", "120", timeout=240)


# ---- restart -------------------------------------------------------------------------------


def test_restart_running_container(fresh: Stack) -> None:
    name = fresh.name("web", 1)
    before = inspect(name)["State"]
    act = actuator(fresh)
    try:
        outcome = run(act.restart(RestartParams(service="web", container=name, stop_timeout_s=2)))
    finally:
        act.close()
    assert outcome.status == "succeeded", outcome
    assert outcome.targets == [name]
    assert outcome.error is None
    assert outcome.replicas_before == outcome.replicas_after == 1
    assert outcome.duration_ms > 0
    after = inspect(name)["State"]
    assert before["Running"]
    assert after["Running"]
    assert parse_rfc3339(after["StartedAt"]) > parse_rfc3339(before["StartedAt"])  # type: ignore[operator]


def test_changes_read_the_services_lifecycle_from_docker_events(fresh: Stack) -> None:
    """A stop and a restart by someone else show in `changes`, with exit code and image; the
    bystander service's events do not."""
    name = fresh.name("web", 1)
    since = time.time() - 1
    sh("docker", "stop", "-t", "2", name, timeout=60)
    sh("docker", "start", name, timeout=60)
    sh("docker", "restart", "-t", "1", fresh.name("bystander", 1), timeout=60)
    act = actuator(fresh)
    try:
        changes = run(act.changes("web", since, time.time()))
    finally:
        act.close()
    actions = [(c.container, c.action) for c in changes]
    assert (name, "die") in actions, actions
    assert (name, "start") in actions, actions
    assert actions.index((name, "die")) < actions.index((name, "start"))  # oldest first
    assert all(c.container == name for c in changes), actions  # not the bystander's
    died = next(c for c in changes if c.action == "die")
    assert died.exit_code is not None
    assert died.image == inspect(name)["Config"]["Image"]
    assert since <= died.at <= time.time()


def test_restart_exited_container_by_id(fresh: Stack) -> None:
    name = fresh.name("web", 1)
    sh("docker", "stop", "-t", "2", name, timeout=60)
    before = inspect(name)
    assert before["State"]["Status"] == "exited"
    act = actuator(fresh)
    try:
        outcome = run(act.restart(RestartParams(service="web", container=before["Id"][:12])))
    finally:
        act.close()
    assert outcome.status == "succeeded", outcome
    assert outcome.targets == [name]
    after = inspect(name)["State"]
    assert after["Status"] == "running"
    assert after["StartedAt"] != before["State"]["StartedAt"]


def test_rolling_restart_restarts_replicas_one_at_a_time(fresh: Stack) -> None:
    compose(fresh, "up", "-d", "--wait", "--scale", "web=2", timeout=240)
    one, two = fresh.name("web", 1), fresh.name("web", 2)
    before = {n: started(n) for n in (one, two)}
    act = actuator(fresh)
    try:
        outcome = run(act.restart(RestartParams(service="web", stop_timeout_s=2)))
    finally:
        act.close()
    assert outcome.status == "succeeded", outcome
    assert outcome.targets == [one, two]
    first, second = inspect(one)["State"], inspect(two)["State"]
    assert first["StartedAt"] != before[one]
    assert second["StartedAt"] != before[two]
    # Replica 2 was stopped only after replica 1 was running (and healthy) again.
    assert parse_rfc3339(first["StartedAt"]) < parse_rfc3339(second["FinishedAt"])  # type: ignore[operator]


# ---- scale ---------------------------------------------------------------------------------


def test_scale_up_then_down_like_compose(fresh: Stack) -> None:
    p = fresh.project
    one = inspect(fresh.name("web", 1))
    act = actuator(fresh)
    try:
        up = run(act.scale(ScaleParams(service="web", direction="up", step=1, max_replicas=3)))
        assert up.status == "succeeded", up
        assert up.targets == [f"{p}-web-2"]
        assert (up.replicas_before, up.replicas_after) == (1, 2)
        assert ps_names(fresh) == sorted([f"{p}-bystander-1", f"{p}-web-1", f"{p}-web-2"])

        new = inspect(f"{p}-web-2")
        labels, ref = new["Config"]["Labels"], one["Config"]["Labels"]
        assert labels["com.docker.compose.container-number"] == "2"
        assert labels["com.docker.compose.oneoff"] == "False"
        for key in (
            "com.docker.compose.project",
            "com.docker.compose.service",
            "com.docker.compose.config-hash",
            "relia.remediation",
        ):
            assert labels[key] == ref[key], key
        assert new["Config"]["Env"] == one["Config"]["Env"]
        assert new["Config"]["Cmd"] == one["Config"]["Cmd"]
        assert new["Config"]["Healthcheck"] == one["Config"]["Healthcheck"]
        assert new["Image"] == one["Image"]
        assert new["State"]["Health"]["Status"] == "healthy"
        network = f"{p}_default"
        aliases = new["NetworkSettings"]["Networks"][network]["Aliases"]
        assert aliases[:2] == [f"{p}-web-2", "web"]
        assert new["Config"]["Hostname"] != one["Config"]["Hostname"]

        # The new replica receives traffic sent to the service's network alias.
        want = {one["Config"]["Hostname"], new["Config"]["Hostname"]}
        assert hostnames_behind_alias(fresh, want) == want

        clamped = run(act.scale(ScaleParams(service="web", direction="up", step=5, max_replicas=3)))
        assert clamped.status == "succeeded", clamped
        assert clamped.targets == [f"{p}-web-3"], clamped
        at_max = run(act.scale(ScaleParams(service="web", direction="up", max_replicas=3)))
        assert at_max.status == "noop", at_max
        assert "max_replicas=3" in at_max.detail, at_max
        assert (at_max.replicas_before, at_max.replicas_after) == (3, 3)
        assert len([n for n in ps_names(fresh) if "-web-" in n]) == 3

        down = run(act.scale(ScaleParams(service="web", direction="down", step=1)))
        assert down.status == "succeeded", down
        assert down.targets == [f"{p}-web-3"], down
        down = run(act.scale(ScaleParams(service="web", direction="down", step=5, min_replicas=1)))
        assert down.status == "succeeded", down
        assert down.targets == [f"{p}-web-2"], down
        assert (down.replicas_before, down.replicas_after) == (2, 1)
        at_min = run(act.scale(ScaleParams(service="web", direction="down", min_replicas=1)))
        assert at_min.status == "noop", at_min
        assert "min_replicas=1" in at_min.detail, at_min
    finally:
        act.close()
    assert ps_names(fresh) == sorted([f"{p}-bystander-1", f"{p}-web-1"])
    # The surviving replica was never touched and alone answers on the alias again.
    assert started(fresh.name("web", 1)) == one["State"]["StartedAt"]
    assert hostnames_behind_alias(fresh, {one["Config"]["Hostname"]}) == {one["Config"]["Hostname"]}


def test_compose_adopts_engine_replicas_and_up_resets_the_count(fresh: Stack) -> None:
    act = actuator(fresh)
    try:
        up = run(act.scale(ScaleParams(service="web", direction="up", step=1)))
    finally:
        act.close()
    assert up.status == "succeeded", up
    added = inspect(up.targets[0])["Id"]
    # Same config hash: compose sees the engine's replica as its own, up to date (not recreated).
    compose(fresh, "up", "-d", "--wait", "--scale", "web=2", timeout=240)
    assert inspect(up.targets[0])["Id"] == added
    # A plain `up` brings the count back to the file's (1): the highest number goes.
    compose(fresh, "up", "-d", "--wait", timeout=240)
    assert [n for n in ps_names(fresh) if "-web-" in n] == [fresh.name("web", 1)]


# ---- blast radius --------------------------------------------------------------------------


def test_never_touches_other_services_or_projects_even_by_name(fresh: Stack) -> None:
    p = fresh.project
    foreign = f"{p}-foreign-web-1"
    image = fresh.env["RELIA_ACTTEST_IMAGE"]
    sh(
        "docker",
        "run",
        "-d",
        "--name",
        foreign,
        "--label",
        f"com.docker.compose.project={p}-foreign",
        "--label",
        "com.docker.compose.service=web",
        "--label",
        "com.docker.compose.container-number=1",
        "--label",
        "relia.remediation=enabled",
        image,
        timeout=60,
    )
    bystander = fresh.name("bystander", 1)
    watched = {n: started(n) for n in (foreign, bystander)}
    before_ps = ps_names(fresh)
    act = actuator(fresh)
    try:
        targets = run(act.list_targets("web"))
        assert [t.name for t in targets] == [fresh.name("web", 1)]
        assert run(act.list_targets("bystander")) == []
        for service, container, why in [
            ("web", foreign, "not in compose project"),
            ("bystander", bystander, "no opt-in label"),
            ("web", bystander, "no opt-in label"),
            ("web", f"{p}-web-99", "no container named"),
        ]:
            out = run(act.restart(RestartParams(service=service, container=container)))
            assert out.status == "failed", out
            assert out.targets == [], out
            assert out.error is not None, out.error
            assert why in out.error, out.error
        for params in (
            RestartParams(service="bystander"),
            ScaleParams(service="bystander", direction="up"),
            ScaleParams(service="bystander", direction="down", min_replicas=0),
        ):
            call = act.restart(params) if isinstance(params, RestartParams) else act.scale(params)
            out = run(call)
            assert out.status == "failed", out
            assert "no eligible containers" in str(out.error), out
        # Scaling web down to 0 removes only web's replica, nothing of the foreign project.
        out = run(act.scale(ScaleParams(service="web", direction="down", min_replicas=0)))
        assert out.status == "succeeded", out
        assert out.targets == [fresh.name("web", 1)], out
        assert {n: started(n) for n in watched} == watched
        assert ps_names(fresh) == sorted(n for n in before_ps if n != fresh.name("web", 1))
        assert inspect(foreign)["State"]["Running"]
    finally:
        act.close()
        sh("docker", "rm", "-f", foreign, check=False, timeout=60)


# ---- daemon faults (through a unix-socket relay) -------------------------------------------


@pytest.fixture
def relay_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="relia-acttest-")  # short: unix socket paths max ~100 chars
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_daemon_dying_mid_action_fails_cleanly_and_recovers(fresh: Stack, relay_dir: str) -> None:
    sock = os.path.join(relay_dir, "docker.sock")
    relay = Relay(sock, "forward")
    act = actuator(fresh, docker_host=f"unix://{sock}", call_timeout_s=15.0)
    name = fresh.name("web", 1)
    try:
        assert run(act.ping()) is True

        async def kill_mid_restart() -> Any:
            # web runs as PID 1 and ignores SIGTERM, so the restart call lasts stop_timeout_s.
            task = asyncio.create_task(act.restart(RestartParams(service="web", stop_timeout_s=5)))
            await asyncio.to_thread(relay.wait_for_request, "/restart")
            relay.kill()
            return await task

        start0 = started(name)
        outcome = run(kill_mid_restart())
        assert outcome.status == "failed", outcome
        assert outcome.error is not None
        assert "Docker daemon unreachable" in outcome.error
        assert "restart" in outcome.error
        # While the daemon is gone every call fails fast with a clear error.
        assert run(act.ping()) is False
        gone = run(act.scale(ScaleParams(service="web", direction="up")))
        assert gone.status == "failed"
        assert "Docker daemon unreachable" in str(gone.error)
        assert gone.replicas_after is None

        # The request was passed on before the relay died, so dockerd normally finishes that
        # restart alone (stop_timeout_s=5, then start); let it settle before acting again.
        settle = time.monotonic() + 30.0
        while time.monotonic() < settle:
            state = inspect(name)["State"]
            if state["StartedAt"] != start0 and state["Running"]:
                break
            time.sleep(0.3)
        relay = Relay(sock, "forward")
        assert run(act.ping()) is True
        before = started(name)
        again = run(act.restart(RestartParams(service="web", container=name, stop_timeout_s=2)))
        assert again.status == "succeeded", again
        assert started(name) != before
    finally:
        act.close()
        relay.kill()


def test_stalled_daemon_times_out_without_blocking_and_recovers(
    fresh: Stack, relay_dir: str
) -> None:
    sock = os.path.join(relay_dir, "docker.sock")
    relay = Relay(sock, "stall")
    act = actuator(fresh, docker_host=f"unix://{sock}", call_timeout_s=2.0)
    name = fresh.name("web", 1)
    before = started(name)
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
            restart = await act.restart(RestartParams(service="web", container=name))
            scale = await act.scale(ScaleParams(service="web", direction="up"))
            ping = await act.ping()
            elapsed = time.monotonic() - t0
            task.cancel()
            return restart, scale, ping, ticks, elapsed

        restart, scale, ping, ticks, elapsed = run(stalled())
        assert restart.status == "failed", restart
        assert "did not answer within 2s" in str(restart.error), restart
        assert scale.status == "failed", scale
        assert "did not answer within 2s" in str(scale.error), scale
        assert ping is False
        assert elapsed < 20.0, elapsed  # 4 bounded calls of 2 s each, not the 60 s SDK default
        assert ticks >= elapsed / 0.05 * 0.3, "the event loop stalled while Docker hung"
        assert started(name) == before  # nothing reached the daemon

        relay.kill()
        relay = Relay(sock, "forward")
        assert run(act.ping()) is True
        ok = run(act.restart(RestartParams(service="web", container=name, stop_timeout_s=2)))
        assert ok.status == "succeeded", ok
        assert started(name) != before
    finally:
        act.close()
        relay.kill()
