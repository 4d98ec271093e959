"""Healthy background traffic for the e2e suites: the services' own endpoints at a bounded rate
(load on the business API, not a call of the platform's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from chaos_simulator.mix import Endpoint, MixGenerator
from chaos_simulator.targets import DEFAULT_URLS as URLS

# The chaos library's endpoints and request bodies, in the shares the suite's baselines were
# measured with: lighter on orders than `chaos load` (one line per order; pricing costs CPU
# per line), so healthy CPU stays well under the restart and scale thresholds.
BACKGROUND_MIX = (
    Endpoint("users.get", "users", "GET", "/users/{user_id}", 35.0),
    Endpoint("users.list", "users", "GET", "/users", 15.0),
    Endpoint("orders.create", "orders", "POST", "/orders", 25.0, basket=(1, 1)),
    Endpoint("orders.list", "orders", "GET", "/orders", 10.0),
    Endpoint("payments.authorize", "payments", "POST", "/payments/authorize", 15.0),
)


@dataclass
class TrafficStats:
    sent: int = 0
    failed: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class Traffic:
    """Healthy background traffic at a bounded rate from a few threads, until stopped."""

    def __init__(
        self,
        rate_per_s: float = 8.0,
        threads: int = 4,
        max_duration_s: float = 3600,
        urls: Mapping[str, str] = URLS,
    ):
        self.urls = dict(urls)
        self.rate = rate_per_s
        self.threads = threads
        self.max_duration_s = max_duration_s
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _one(self, client: httpx.Client, mix: MixGenerator) -> int:
        request = mix.next()
        url = self.urls[request.service] + request.path
        return client.request(request.method, url, json=request.json).status_code

    def _worker(self, seed: int) -> None:
        mix = MixGenerator(BACKGROUND_MIX, seed)
        period = self.threads / self.rate
        deadline = time.monotonic() + self.max_duration_s
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    code = self._one(client, mix)
                    with self._lock:
                        self.stats.sent += 1
                        self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1
                except httpx.HTTPError:
                    with self._lock:
                        self.stats.sent += 1
                        self.stats.failed += 1
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def start(self) -> Traffic:
        for i in range(self.threads):
            thread = threading.Thread(target=self._worker, args=(i,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=15)
