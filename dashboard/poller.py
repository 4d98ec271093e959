"""The background loop: poll both backends, record into the Store, publish snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dashboard.clients import BackendClient, Fetched
from dashboard.hub import Hub
from dashboard.links import PublicLinks
from dashboard.state import Store, build_snapshot, digest
from relia_contracts.catalog import CatalogReadError, CatalogSignal, parse_signals

log = logging.getLogger("dashboard.poller")

# (backend, resource name, path, query parameters)
ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("anomaly", "predict", "/predict", None),
    ("anomaly", "services_health", "/services/health", None),
    ("anomaly", "stats", "/stats", None),
    ("anomaly", "anomalies_active", "/anomalies", {"status": "active", "limit": 500}),
    ("anomaly", "anomalies_recent", "/anomalies", {"limit": 100}),
    ("policy", "status", "/status", None),
    ("policy", "policies", "/policies", None),
    ("policy", "actions", "/actions", {"limit": 100}),
    # Guard skips are audited on every evaluation and can fill the newest 100: fetch the
    # actions that did something separately so they never drop out of view.
    ("policy", "actions_succeeded", "/actions", {"outcome": "succeeded", "limit": 50}),
    ("policy", "actions_failed", "/actions", {"outcome": "failed", "limit": 50}),
    ("policy", "actions_dry_run", "/actions", {"outcome": "dry_run", "limit": 50}),
]


# The list each answer must carry; anything else is a bad answer, kept out of the store.
SHAPES: dict[str, str | None] = {
    "predict": "series",
    "services_health": "services",
    "stats": None,
    "anomalies_active": "items",
    "anomalies_recent": "items",
    "status": None,
    "policies": "items",
    "actions": "items",
    "actions_succeeded": "items",
    "actions_failed": "items",
    "actions_dry_run": "items",
}


def shape_error(name: str, data: Any) -> str | None:
    """Why an answer does not have the contract's shape, or None when it does."""
    if not isinstance(data, dict):
        return f"unexpected answer: a JSON {type(data).__name__}, not an object"
    key = SHAPES.get(name)
    if key is not None and not isinstance(data.get(key), list):
        return f"unexpected answer: no '{key}' list"
    return None


class PollerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.poll_seconds = Histogram(
            "dashboard_poll_duration_seconds",
            "Time to poll every backend once",
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
        )
        self.backend_up = Gauge(
            "dashboard_backend_up",
            "1 if the latest poll of every endpoint succeeded",
            ["backend"],
            registry=registry,
        )
        self.fetch_errors = Counter(
            "dashboard_fetch_errors_total",
            "Failed backend fetches",
            ["backend", "resource"],
            registry=registry,
        )
        self.pushes = Counter(
            "dashboard_snapshots_published_total",
            "Snapshots that changed and were pushed",
            registry=registry,
        )


def extract_catalog(models: Any) -> tuple[CatalogSignal, ...]:
    """The signals of the anomaly service's `/models` answer (`catalog[]`), in its order."""
    entries = models.get("catalog") if isinstance(models, dict) else None
    return parse_signals(entries, "GET /models: catalog")


class Poller:
    """Owns the Store; `poll_once` is what the loop runs and what tests call directly."""

    def __init__(
        self,
        anomaly: BackendClient,
        policy: BackendClient,
        hub: Hub,
        *,
        poll_interval_s: float,
        stale_after_s: float,
        links: PublicLinks,
        registry: CollectorRegistry,
        sparkline_points: int = 120,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = {"anomaly": anomaly, "policy": policy}
        self.hub = hub
        self.poll_interval_s = poll_interval_s
        self.stale_after_s = stale_after_s
        self.links = links
        self.clock = clock
        self.store = Store()
        self.store.history.maxlen = sparkline_points
        self.metrics = PollerMetrics(registry)
        self._kick = asyncio.Event()
        self._last_digest: str | None = None

    async def _fetch(self, backend: str, path: str, params: dict[str, Any] | None) -> Fetched:
        return await self.clients[backend].get(path, params)

    async def poll_once(self) -> dict[str, Any]:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(self._fetch(backend, path, params) for backend, _, path, params in ENDPOINTS)
        )
        now = self.clock()
        for (backend, name, path, _), result in zip(ENDPOINTS, results, strict=True):
            resource = self.store.resource(backend, name)
            if result.ok and (problem := shape_error(name, result.data)):
                result = Fetched(error=f"GET {path}: {problem}")
            if result.ok:
                resource.record_ok(result.data, now)
                if name == "predict" and isinstance(result.data, dict):
                    self.store.history.add_predict(result.data)
            else:
                resource.record_error(result.error or "failed", now)
                self.metrics.fetch_errors.labels(backend, name).inc()
        for backend, resources in self.store.resources.items():
            up = all(r.error is None for r in resources.values())
            self.metrics.backend_up.labels(backend).set(1 if up else 0)
        if self.links.catalog_source == "shipped" and results[0].ok:
            await self._read_catalog()
        snapshot = self.snapshot(now)
        self.metrics.poll_seconds.observe(time.perf_counter() - started)
        await self.publish(snapshot)
        return snapshot

    async def _read_catalog(self) -> None:
        """The catalog changes only with a restart of the anomaly service: read it once."""
        models = await self.clients["anomaly"].get("/models")
        if not models.ok:
            return
        try:
            self.links.catalog = extract_catalog(models.data)
        except CatalogReadError as exc:  # keep the shipped one, try again next poll
            log.warning("anomaly service catalog unusable: %s", exc)
            return
        self.links.catalog_source = "anomaly-service"

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        return build_snapshot(
            self.store,
            self.clock() if now is None else now,
            poll_interval_s=self.poll_interval_s,
            stale_after_s=self.stale_after_s,
            links=self.links,
        )

    async def publish(self, snapshot: dict[str, Any]) -> None:
        """Hand the hub a new snapshot; it tells clients whether anything but clocks changed."""
        new_digest = digest(snapshot)
        changed = new_digest != self._last_digest
        self._last_digest = new_digest
        if changed:
            self.metrics.pushes.inc()
        await self.hub.publish(snapshot, changed)

    def kick(self) -> None:
        """Poll now instead of waiting for the next tick (after a toggle, say)."""
        self._kick.set()

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # never let one bad answer kill the loop
                log.exception("poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self.poll_interval_s)
            self._kick.clear()
