"""Fan-out of snapshots to server-sent-event clients: latest value plus a change counter."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Hub:
    """Subscribers wait for the next publish; they read the latest snapshot, never a backlog."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None
        self.version = 0  # bumped when content changed
        self.tick = 0  # bumped on every publish (heartbeat)
        self.clients = 0
        self._cond = asyncio.Condition()

    async def publish(self, snapshot: dict[str, Any], changed: bool) -> None:
        async with self._cond:
            self.snapshot = snapshot
            self.tick += 1
            if changed:
                self.version += 1
            self._cond.notify_all()

    async def wait(self, after_tick: int, timeout_s: float) -> int:
        """Wait until a publish newer than `after_tick` (or the timeout); return the tick."""
        async with self._cond:
            if self.tick <= after_tick:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout=timeout_s)
            return self.tick
