"""Re-read policies.yml off the event loop, one reload at a time per engine.

The control loop, `POST /policies/reload` and a vocabulary change may all ask for a reload;
each runs in a worker thread (YAML parsing never blocks the loop) under the engine's own lock,
so two reloads never interleave their updates of the engine's policy state.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any, Protocol


class _Reloads(Protocol):
    def reload(self, force: bool = False) -> Any: ...


_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _lock_of(engine: _Reloads) -> threading.Lock:
    with _guard:
        lock = _locks.get(engine)
        if lock is None:
            lock = _locks[engine] = threading.Lock()
        return lock


async def reload_off_loop(engine: _Reloads, force: bool = False) -> None:
    lock = _lock_of(engine)

    def run() -> None:
        with lock:
            engine.reload(force)

    await asyncio.to_thread(run)
