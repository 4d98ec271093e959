"""The workers that make resource faults real: a thread that burns CPU, a hog that holds memory."""

from __future__ import annotations

import hashlib
import os
import threading
import time

MB = 1024 * 1024
# Memory is allocated in chunks of at most this size so one tick never blocks the loop long.
MEMORY_CHUNK_MB = 16


class CpuBurner:
    """Burns up to one core in a thread: SHA-256 over a buffer releases the GIL while hashing,
    so the CPU is real and shows in process_cpu_seconds_total without starving the event loop.
    """

    PERIOD_S = 0.1

    def __init__(self) -> None:
        self._intensity = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._buffer = os.urandom(256 * 1024)

    @property
    def running(self) -> bool:
        """Burning, or asked to (the thread may still be starting)."""
        return self._thread is not None

    def set_intensity(self, intensity: float) -> None:
        """Start, retune or stop the burner; never waits for the thread (called on the loop)."""
        self._intensity = max(0.0, min(1.0, intensity))
        if self._intensity > 0 and self._thread is None:
            # A fresh stop event per thread: a stopping thread can never be revived by a restart.
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="chaos-cpu", daemon=True
            )
            self._thread.start()
        elif self._intensity == 0 and self._thread is not None:
            self._stop.set()  # the thread ends within one period
            self._thread = None

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            busy = self._intensity * self.PERIOD_S
            start = time.perf_counter()
            while time.perf_counter() - start < busy:
                hashlib.sha256(self._buffer).digest()
            idle = self.PERIOD_S - (time.perf_counter() - start)
            if idle > 0:
                stop.wait(idle)


class MemoryHog:
    """Holds really allocated (written, hence resident) memory; dropping it releases it."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._held = 0

    @property
    def held_mb(self) -> float:
        return self._held / MB

    def grow_to(self, target_mb: float) -> None:
        target = int(target_mb * MB)
        while self._held < target:
            size = min(target - self._held, MEMORY_CHUNK_MB * MB)
            # b"x" * n writes every byte, so the pages are resident (calloc'd zeros are not).
            self._chunks.append(b"\xa5" * size)
            self._held += size

    def release(self) -> None:
        self._chunks.clear()
        self._held = 0
