"""Healthy background traffic for the e2e suites: the services' own endpoints at a bounded rate
(load on the business API, not a call of the platform's)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from chaos_simulator.targets import DEFAULT_URLS as URLS


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

    def _one(self, client: httpx.Client, rng: random.Random) -> int:
        pick = rng.random()
        if pick < 0.35:
            return client.get(f"{self.urls['users']}/users/u-{rng.randint(1, 50)}").status_code
        if pick < 0.5:
            return client.get(f"{self.urls['users']}/users").status_code
        if pick < 0.75:
            body = {"customer_id": f"u-{rng.randint(1, 50)}",
                    "items": [{"sku": f"sku-{rng.randint(1, 20)}", "qty": rng.randint(1, 3),
                               "unit_price": round(rng.uniform(1, 50), 2)}]}  # fmt: skip
            return client.post(f"{self.urls['orders']}/orders", json=body).status_code
        if pick < 0.85:
            return client.get(f"{self.urls['orders']}/orders").status_code
        payment = {
            "order_id": f"o-{rng.randint(1, 10**6)}",
            "customer_id": f"u-{rng.randint(1, 50)}",
            "amount": round(rng.uniform(1, 200), 2),
        }
        return client.post(f"{self.urls['payments']}/payments/authorize", json=payment).status_code

    def _worker(self, seed: int) -> None:
        rng = random.Random(seed)
        period = self.threads / self.rate
        deadline = time.monotonic() + self.max_duration_s
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    code = self._one(client, rng)
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
