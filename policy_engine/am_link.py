"""The engine's side of Alertmanager: the silence cache it refreshes off the loop, the
maintenance windows of the active policy set, anomaly forwarding, and the alert links."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from policy_engine.alertmanager import AlertmanagerClient, Delivery, SilenceCache
from policy_engine.am_payload import Links, build_alert
from policy_engine.maintenance import Window, active_window, window_bounds
from policy_engine.models import AMAlert
from policy_engine.silences import covering_silence

if TYPE_CHECKING:
    from policy_engine.engine import Engine


class AmLink:
    def __init__(self, engine: Engine, client: AlertmanagerClient | None) -> None:
        self.engine = engine
        self.client = client
        self.silences = SilenceCache(engine.settings.silences_max_age_s)
        self._task: asyncio.Task[Any] | None = None

    def refresh_silences_soon(self, now: float) -> None:
        """Re-read silences in a task of their own: a slow Alertmanager never delays a cycle."""
        if self.client is None or (self._task is not None and not self._task.done()):
            return
        last = self.silences.last_attempt_at
        if last is None or now - last >= self.engine.settings.silences_refresh_s:
            self._task = self.engine.pipeline.spawn(self.silences.refresh(self.client, now))

    async def refresh_silences(self, min_interval_s: float = 0.0) -> None:
        """Now, and wait (GET /silences?refresh=true: at most once per `min_interval_s`, so an
        unauthenticated GET cannot turn into a flood of requests to Alertmanager)."""
        if self.client is None:
            return
        now, last = self.engine.clock(), self.silences.last_attempt_at
        if last is not None and now - last < min_interval_s:
            return
        await self.silences.refresh(self.client, now)

    def silence_for(self, labels: dict[str, str], now: float) -> tuple[str, str] | None:
        found = covering_silence(self.silences.usable(now), labels, now)
        if found is None:
            return None
        matchers = ", ".join(str(m) for m in found.matchers)
        by = f" by {found.created_by}" if found.created_by else ""
        comment = f": {found.comment}" if found.comment else ""
        return found.id, f"{{{matchers}}}{by}{comment}"

    @property
    def windows(self) -> tuple[Window, ...]:
        active = self.engine.policies.active
        return active.maintenance if active is not None else ()

    def maintenance_for(self, service: str, now: float) -> tuple[str, float] | None:
        window = active_window(self.windows, service, now)
        bounds = window_bounds(window, now) if window is not None else None
        return (window.name, bounds[1]) if window is not None and bounds is not None else None

    @property
    def links(self) -> Links:
        s = self.engine.settings
        return Links(s.dashboard_public_url, s.anomaly_service_public_url)

    def forward_anomaly(self, alert: AMAlert) -> None:
        """ALERTMANAGER_FORWARD_ANOMALIES: a firing anomaly goes to Alertmanager too."""
        settings = self.engine.settings
        if self.client is None or not settings.alertmanager_forward_anomalies:
            return
        if alert.status != "firing":
            return
        labels = alert.labels
        payload = build_alert(
            kind="anomaly",
            service=labels.get("service", "unknown"),
            severity=labels.get("severity", "warning"),
            policy="anomaly",
            summary=alert.annotations.get("summary") or f"anomaly on {labels.get('service')}",
            links=self.links,
            now=self.engine.clock(),
            ttl_s=settings.alertmanager_alert_ttl_s,
            anomaly_id=labels.get("anomaly_id"),
            extra_labels={k: v for k, v in labels.items() if k in ("metric", "kind", "anomaly_id")},
        )
        self.engine.pipeline.spawn(self.post([payload]))

    async def post(self, alerts: list[dict[str, Any]]) -> Delivery:
        assert self.client is not None
        delivery = await self.client.post_alerts(alerts)
        self.engine.metrics.alertmanager_posts.labels("sent" if delivery.sent else "failed").inc()
        return delivery

    def view(self) -> dict[str, Any]:
        url = self.client.base_url if self.client is not None else None
        return self.silences.view(self.engine.clock(), url)
