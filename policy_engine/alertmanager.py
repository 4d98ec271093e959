"""Alertmanager adapter (httpx): post alerts with bounded retries, read silences into a cache.

The cache is refreshed off the hot path (a task the control loop spawns); admission only reads
it. Alertmanager down or slow never blocks the loop: the last good list is used while it is
younger than `max_age_s`, after that no silence is known (actions proceed) and /status says why.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from policy_engine.silences import Silence, parse_silences


@dataclass(frozen=True)
class Delivery:
    sent: bool
    attempts: int
    detail: str
    error: str | None = None
    duration_ms: float = 0.0


class AlertmanagerClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float = 2.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> Delivery:
        """POST /api/v2/alerts; transport errors and 5xx are retried (backoff doubles, bounded
        by `attempts`), a 4xx is not (the payload is wrong: retrying cannot help)."""
        started = time.perf_counter()
        error = ""
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(self.base_url + "/api/v2/alerts", json=alerts)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return Delivery(
                        True,
                        attempt,
                        f"sent to Alertmanager {self.base_url}: HTTP {response.status_code}"
                        f" (attempt {attempt})",
                        duration_ms=(time.perf_counter() - started) * 1000,
                    )
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500:
                    break
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        return Delivery(
            False,
            attempt,
            f"not delivered to Alertmanager {self.base_url} after {attempt} attempt(s)",
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    async def silences(self) -> list[Silence]:
        response = await self._client.get(self.base_url + "/api/v2/silences")
        response.raise_for_status()
        return parse_silences(response.json())

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class SilenceCache:
    """The last list of silences read from Alertmanager, and how fresh it is."""

    max_age_s: float
    silences: list[Silence] = field(default_factory=list)
    fetched_at: float | None = None
    last_error: str | None = None
    last_attempt_at: float | None = None

    def usable(self, now: float) -> list[Silence]:
        if self.fetched_at is None or now - self.fetched_at > self.max_age_s:
            return []
        return self.silences

    async def refresh(self, client: AlertmanagerClient, now: float) -> None:
        self.last_attempt_at = now
        try:
            found = await client.silences()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            return
        self.silences, self.fetched_at, self.last_error = found, now, None

    def view(self, now: float, url: str | None) -> dict[str, Any]:
        fresh = self.fetched_at is not None and now - self.fetched_at <= self.max_age_s
        return {
            "url": url,
            "reachable": self.last_error is None and self.fetched_at is not None,
            "silences_fetched_at": self.fetched_at,
            "silences_fresh": fresh,
            "error": self.last_error,
        }
