"""Event delivery to the policy engine: bounded queue, retries with backoff, background task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

log = logging.getLogger("anomaly_service.notifier")


class Notifier(Protocol):
    """What the cycle hands events to; `submit` never blocks."""

    def submit(self, payload: dict[str, Any]) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def drain(self, timeout_s: float) -> bool: ...

    def stats(self) -> dict[str, Any]: ...


@dataclass
class DeliveryStats:
    queued: int = 0
    delivered: int = 0
    failed: int = 0  # gave up after the last attempt
    dropped: int = 0  # queue full, or no receiver configured
    retries: int = 0
    last_error: str | None = None
    last_delivered_at: float | None = None


Observer = Callable[[str], None]  # called with "delivered" | "failed" | "dropped" | "retry"


@dataclass
class HttpNotifier:
    """POSTs each payload to `url`; a background task drains the queue in order."""

    url: str
    token: str = ""
    queue_size: int = 1000
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    timeout_s: float = 5.0
    observer: Observer | None = None
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = field(default=lambda: 0.0)
    counters: DeliveryStats = field(default_factory=DeliveryStats)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=self.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def _note(self, what: str) -> None:
        if self.observer is not None:
            self.observer(what)

    def submit(self, payload: dict[str, Any]) -> bool:
        if not self.url:
            self.counters.dropped += 1
            self._note("dropped")
            return False
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            # Newest is dropped rather than blocking detection; counted and logged.
            self.counters.dropped += 1
            self.counters.last_error = "queue full"
            self._note("dropped")
            log.warning("event queue full (%d); event dropped", self.queue_size)
            return False
        self.counters.queued += 1
        return True

    async def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_s), headers=headers, transport=self.transport
        )
        self._task = asyncio.create_task(self._run(), name="event-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self, timeout_s: float) -> bool:
        """Wait until the queue is empty (tests and graceful stop)."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def _run(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                await self._deliver(payload)
            finally:
                self._queue.task_done()

    async def _deliver(self, payload: dict[str, Any]) -> None:
        assert self._client is not None
        delay = self.backoff_initial_s
        for attempt in range(1, self.max_attempts + 1):
            error = await self._post(payload)
            if error is None:
                self.counters.delivered += 1
                self.counters.last_delivered_at = self.clock()
                self._note("delivered")
                return
            self.counters.last_error = error
            if attempt == self.max_attempts:
                break
            self.counters.retries += 1
            self._note("retry")
            log.info("event delivery attempt %d failed (%s); retry in %.1fs", attempt, error, delay)
            await self.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)
        self.counters.failed += 1
        self._note("failed")
        log.error("event delivery gave up after %d attempts: %s", self.max_attempts, error)

    async def _post(self, payload: dict[str, Any]) -> str | None:
        assert self._client is not None
        try:
            response = await self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        # 4xx other than 408/429 will not get better by retrying, but the receiver might be
        # mid-deploy; we retry everything within the bounded attempts.
        return f"HTTP {response.status_code}"

    def stats(self) -> dict[str, Any]:
        c = self.counters
        return {
            "url": self.url or None,
            "queue_depth": self._queue.qsize(),
            "queue_size": self.queue_size,
            "queued": c.queued,
            "delivered": c.delivered,
            "failed": c.failed,
            "dropped": c.dropped,
            "retries": c.retries,
            "last_error": c.last_error,
            "last_delivered_at": c.last_delivered_at,
        }
