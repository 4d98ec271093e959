"""The e2e suite's way to the platform: the chaos library's client (chaos_simulator.client), the
same one the `chaos` CLI uses, run on an event loop in a thread of its own so the sync tests
call it like functions; and the suite's one bounded wait, on the library's poll_until.

Why a thread: a wait's probe (sync, often several platform calls and a docker command) runs in
a worker thread and hands each call to this loop; a loop in the test's own thread would be
busy running the wait itself."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx

from chaos_simulator.client import (
    ApiError,
    EngineStatus,
    FaultRecord,
    PlatformClient,
    PolicyFile,
    Record,
    Targets,
    TargetUnreachable,
    open_client,
)
from chaos_simulator.watch import poll_until

T = TypeVar("T")
LIMIT = 500  # the largest page the anomaly service and the engine serve: a run's whole history
INJECT_RETRY_S = 45.0  # a fault on a service its gateway cannot reach yet (it just restarted)
PLATFORM_ERRORS = (TargetUnreachable, ApiError)


class SyncPlatform:
    """A PlatformClient on its own event loop; `run` awaits any of its calls. The calls the
    scenarios make most are methods here, with the suite's page size."""

    def __init__(self, targets: Targets | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="e2e-platform", daemon=True
        )
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        opened = open_client(targets or Targets())
        self.client: PlatformClient = self.run(self._stack.enter_async_context(opened))

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        """The result of one of the client's coroutines; cancelled when the test is stopped
        (pytest-timeout) while it waits."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("SyncPlatform.run called from its own loop: await the call")
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        with contextlib.suppress(*PLATFORM_ERRORS, httpx.HTTPError, RuntimeError):
            self.run(self._stack.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    # the anomaly service
    def anomalies(self, **filters: Any) -> list[Record]:
        return self.run(self.client.anomaly.anomalies(limit=LIMIT, **filters))

    def series(self) -> list[Record]:
        """The rows of `GET /predict`: every series' latest value, band and verdict."""
        return self.run(self.client.anomaly.series())

    def ready(self) -> bool:
        return self.run(self.client.anomaly.ready())

    # the policy engine
    def actions(self, **filters: Any) -> list[Record]:
        return self.run(self.client.policy.actions(limit=LIMIT, **filters))

    def status(self) -> EngineStatus:
        return self.run(self.client.policy.status())

    def policy_file(self) -> PolicyFile:
        """`policies` of `GET /status`: validity and version of the file in force."""
        policies = self.status().policies
        if policies is None:
            raise ApiError("policy engine", 200, "GET /status has no policies")
        return policies

    def policies(self) -> list[Record]:
        return self.run(self.client.policy.policies())

    def toggle(self, enabled: bool) -> bool:
        return self.run(self.client.policy.toggle(enabled))

    # the services' fault API (through the gateway)
    def inject(self, service: str, kind: str, **params: Any) -> FaultRecord:
        """POST /chaos (201), retried while the gateway cannot reach the service (502/503/504
        after a restart), never on a refusal."""
        fault = {"kind": kind, **params}
        return self.run(self.client.service(service).inject(fault, retry_s=INJECT_RETRY_S))

    def faults(self, service: str) -> list[FaultRecord]:
        return self.run(self.client.service(service).faults())

    def clear(self, service: str) -> int:
        """DELETE /chaos once: how many faults the replica that got it cleared; 0 when the
        service did not answer (best effort: a restart clears faults anyway)."""
        try:
            return self.run(self.client.service(service).clear())
        except PLATFORM_ERRORS:
            return 0


def wait_until(
    what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 1.0
) -> T:
    """Poll `probe` (sync) until it returns something truthy, with the library's poll_until;
    fail with `what` and the last error after the deadline."""
    last_error = ""

    async def check() -> T | None:
        nonlocal last_error
        try:
            return await asyncio.to_thread(probe)
        except (*PLATFORM_ERRORS, httpx.HTTPError, ValueError, KeyError) as exc:
            last_error = repr(exc)
            return None

    found = asyncio.run(poll_until(asyncio.Event(), timeout_s, interval_s, check))
    if not found:
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} {last_error}")
    return found
