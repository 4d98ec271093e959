"""Plumbing shared by the engine's Docker backends (compose containers, Swarm services).

Every blocking docker-SDK call runs on the actuator's own small thread pool and is awaited with
`asyncio.wait_for`, so a hung or dead daemon turns into an `ActionFailed` with one clear message,
never a stalled event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import docker
import docker.errors
import requests.exceptions

from policy_engine.actuator.outcomes import short
from policy_engine.actuator.selection import self_ids_from_proc

T = TypeVar("T")


class ActionFailed(Exception):
    """A step failed in a way the outcome should report as-is."""


def detect_self_ids(proc: Path = Path("/proc/self")) -> set[str]:
    """Container ids of the current process (empty when not in a container)."""
    texts = []
    for name in ("cgroup", "mountinfo"):
        try:
            texts.append((proc / name).read_text(errors="replace"))
        except OSError:
            texts.append("")
    return self_ids_from_proc(texts[0], texts[1])


def default_client_factory(
    base_url: str | None = None, http_timeout_s: float = 10.0
) -> Callable[[], docker.DockerClient]:
    """Docker SDK client; `version="auto"` negotiates with the daemon (API 1.41 here)."""

    # One second over the actuator's own per-call limit, so that limit (asyncio) ends a hung
    # call first, with its one clear message; a tie made the stalled-daemon test flaky.
    timeout = int(max(1, http_timeout_s)) + 1

    def make() -> docker.DockerClient:
        if base_url:
            return docker.DockerClient(base_url=base_url, version="auto", timeout=timeout)
        return docker.from_env(version="auto", timeout=timeout)

    return make


class CallOptions(TypedDict, total=False):
    """The keyword options of every backend's constructor (defaults: `DockerCalls`)."""

    docker_host: str | None
    client_factory: Callable[[], docker.DockerClient] | None
    call_timeout_s: float
    ready_timeout_s: float
    poll_interval_s: float
    self_ids: Iterable[str] | None
    hostname: str | None
    max_workers: int


class DockerCalls:
    """A lazily made SDK client, its own thread pool, bounded calls and per-service locks."""

    # what a NotFound refers to in messages ("container", "task", ...)
    gone_noun = "container"

    def __init__(
        self,
        *,
        docker_host: str | None = None,
        client_factory: Callable[[], docker.DockerClient] | None = None,
        call_timeout_s: float = 10.0,
        ready_timeout_s: float = 30.0,
        poll_interval_s: float = 0.5,
        self_ids: Iterable[str] | None = None,
        hostname: str | None = None,
        max_workers: int = 4,
    ) -> None:
        self.call_timeout_s = call_timeout_s
        # how long an action waits for its replicas/tasks to run, and how often it looks
        self.ready_timeout_s = ready_timeout_s
        self.poll_interval_s = poll_interval_s
        self._factory = client_factory or default_client_factory(docker_host, call_timeout_s)
        self._self_ids = set(detect_self_ids() if self_ids is None else self_ids)
        self._hostname = hostname
        # Own pool: hung daemon calls must not starve the loop's default executor.
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="docker-act")
        self._client_lock = threading.Lock()
        self._docker: docker.DockerClient | None = None
        self._service_locks: dict[str, asyncio.Lock] = {}
        # Why the last Docker call failed (None after a success): list_targets returns [] on
        # failure, so callers can tell "no replicas" from "Docker unreachable".
        self.last_error: str | None = None

    def _lock(self, service: str) -> asyncio.Lock:
        # Serialise actions per service: two concurrent scale-ups would pick the same number.
        return self._service_locks.setdefault(service, asyncio.Lock())

    def _client(self) -> docker.DockerClient:
        with self._client_lock:
            if self._docker is None:
                self._docker = self._factory()
            return self._docker

    def _drop_client(self) -> None:
        """Forget the client so the next call reconnects (and renegotiates) from scratch."""
        with self._client_lock:
            old, self._docker = self._docker, None
        if old is not None:
            # Closing a broken client must not mask the real error.
            with contextlib.suppress(Exception):
                old.close()

    async def _call(self, step: str, fn: Callable[..., T], *args: Any, limit_s: float) -> T:
        """Run a blocking call on the pool; every Docker failure becomes ActionFailed."""
        try:
            result = await self._translated(step, fn, *args, limit_s=limit_s)
        except ActionFailed as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None
        return result

    async def _translated(self, step: str, fn: Callable[..., T], *args: Any, limit_s: float) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, limit_s)
        except TimeoutError:
            self._drop_client()
            raise ActionFailed(
                f"Docker daemon did not answer within {limit_s:.0f}s ({step})"
            ) from None
        except docker.errors.NotFound as exc:
            gone = f"{step}: {self.gone_noun} no longer exists ({exc.explanation})"
            raise ActionFailed(gone) from None
        except docker.errors.APIError as exc:
            raise ActionFailed(f"{step}: Docker refused: {exc.explanation or exc}") from None
        except requests.exceptions.Timeout:
            self._drop_client()
            raise ActionFailed(f"Docker daemon did not answer in time ({step})") from None
        except (
            docker.errors.DockerException,
            requests.exceptions.RequestException,
            OSError,
        ) as exc:
            self._drop_client()
            raise ActionFailed(f"Docker daemon unreachable ({step}): {short(exc)}") from None

    def close(self) -> None:
        """Release the thread pool and the client (hung calls are abandoned, not awaited)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._drop_client()

    def _ping(self) -> bool:
        return bool(self._client().ping())

    async def ping(self) -> bool:
        try:
            return await self._call("ping", self._ping, limit_s=self.call_timeout_s)
        except ActionFailed:
            return False
