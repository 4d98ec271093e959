"""In-memory test backends speaking the contracts.md shapes, served through httpx.MockTransport."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

ANOMALY = "http://anomaly.test"
POLICY = "http://policy.test"
TOKEN = "s3cret-token-for-tests"


def anomaly(
    aid: str,
    *,
    service: str = "orders",
    metric: str = "latency",
    status: str = "active",
    opened_at: float = 1000.0,
    severity: str = "warning",
    resolved_at: float | None = None,
) -> dict[str, Any]:
    return {
        "id": aid,
        "fingerprint": "f" * 16,
        "service": service,
        "metric": metric,
        "labels": {"service": service},
        "kind": "deviation",
        "severity": severity,
        "peak_severity": severity,
        "status": status,
        "opened_at": opened_at,
        "resolved_at": resolved_at,
        "value": 0.8,
        "baseline": 0.02,
        "lower": 0.0,
        "upper": 0.05,
        "unit": "seconds",
        "summary": f"{service} {metric} high",
    }


def action(
    act_id: str, anomaly_id: str | None, *, created_at: float = 1010.0, service: str = "orders"
) -> dict[str, Any]:
    return {
        "id": act_id,
        "created_at": created_at,
        "finished_at": created_at + 1,
        "policy": "orders_high_latency_restart",
        "policy_version": "sha256-abcdefabcdef",
        "action": "restart_container",
        "service": service,
        "target": f"relia-{service}-1",
        "params": {},
        "manual": False,
        "dry_run": True,
        "trigger": {
            "anomaly_id": anomaly_id,
            "fingerprint": "f" * 16,
            "alertname": "ReliaAnomaly",
            "metric": "latency",
            "severity": "warning",
            "value": 0.8,
        },
        "outcome": "dry_run",
        "reason": None,
        "error": None,
        "verification": "not_applicable",
        "verified_at": None,
        "duration_ms": 1.0,
    }


@dataclass
class FakeBackends:
    """Mutable backend state; flip `anomaly_down` / `policy_down` to simulate outages."""

    now: float = 1000.0
    enabled: bool = True
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    predict_value: float | None = 0.02
    generated_at: float | None = None  # None: `now`
    anomaly_down: bool = False
    policy_down: bool = False
    policy_error_status: int | None = None
    triage_status: int = 200  # what GET /anomalies/{id}/triage answers with
    calls: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        url = request.url
        base = f"{url.scheme}://{url.host}"
        if base == ANOMALY:
            if self.anomaly_down:
                raise httpx.ConnectError("refused", request=request)
            return self._anomaly(request)
        if base == POLICY:
            if self.policy_down:
                raise httpx.ConnectError("refused", request=request)
            if self.policy_error_status:
                return httpx.Response(self.policy_error_status, json={"detail": "boom"})
            return self._policy(request)
        return httpx.Response(404)

    def _page(
        self, items: list[dict[str, Any]], limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        page = items[offset : offset + limit]
        return {"items": page, "total": len(items), "limit": limit, "offset": offset}

    def _anomaly(self, request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        fixed = {
            "/predict": self._predict,
            "/stats": self._stats,
            "/services/health": self._health,
            "/models": self._models,
        }
        if path in fixed:
            return fixed[path]()
        if path == "/anomalies":
            return self._anomalies(q.get("status"), int(q.get("limit", 50)))
        if path.startswith("/anomalies/") and path.endswith("/triage"):
            return self._triage(path.split("/")[2])
        if path.startswith("/anomalies/"):
            return self._detail(path.rsplit("/", 1)[1])
        return httpx.Response(404)

    def _predict(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "generated_at": self.generated_at or self.now,
                "cycle": 3,
                "ready": True,
                "series": [
                    {
                        "service": "orders",
                        "metric": "latency",
                        "labels": {"service": "orders"},
                        "value": self.predict_value,
                        "baseline": 0.02,
                        "lower": 0.0,
                        "upper": 0.05,
                        "score": 0.1,
                        "severity": "normal",
                        "kind": None,
                        "unit": "seconds",
                        "direction": "up",
                        "warming_up": False,
                        "anomaly_id": None,
                        "ts": self.now,
                    }
                ],
            },
        )

    def _stats(self) -> httpx.Response:
        last = self.generated_at or self.now
        return httpx.Response(
            200,
            json={
                "cycle": 3,
                "last_cycle_at": last,
                "last_success_at": last,
                "fresh": True,
                "prometheus": {"url": "http://prom.test", "reachable": True, "error": None},
            },
        )

    def _health(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "services": [
                    {
                        "service": "orders",
                        "status": "healthy",
                        "replicas_up": 1,
                        "replicas_total": 2,
                        "open_anomalies": sum(a["status"] == "active" for a in self.anomalies),
                        "signals": {
                            "latency": {
                                "value": self.predict_value,
                                "severity": "normal",
                                "unit": "seconds",
                            }
                        },
                    }
                ]
            },
        )

    def _models(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "catalog": [
                    {
                        "name": "latency",
                        "query": "histogram_quantile(0.99, x)",
                        "unit": "seconds",
                    }
                ]
            },
        )

    def _anomalies(self, status: str | None, limit: int) -> httpx.Response:
        items = [a for a in self.anomalies if not status or a["status"] == status]
        items.sort(key=lambda a: a["opened_at"], reverse=True)
        return httpx.Response(200, json=self._page(items, limit))

    def _triage(self, aid: str) -> httpx.Response:
        if self.triage_status != 200:
            return httpx.Response(self.triage_status, json={"detail": "boom"})
        return httpx.Response(
            200,
            json={
                "id": aid,
                "suspected_cause": {"caused_by": ["payments"], "summary": "victim of payments"},
                "next_step": {"summary": "look at payments first: orders is its victim"},
            },
        )

    def _detail(self, aid: str) -> httpx.Response:
        for a in self.anomalies:
            if a["id"] == aid:
                ts = [a["opened_at"] - 10, a["opened_at"], a["opened_at"] + 10]
                return httpx.Response(
                    200,
                    json={
                        **a,
                        "evidence": {
                            "timestamps": ts,
                            "values": [0.02, 0.8, 0.7],
                            "baseline": [0.02] * 3,
                            "lower": [0.0] * 3,
                            "upper": [0.05] * 3,
                        },
                    },
                )
        return httpx.Response(404, json={"detail": "not found"})

    def _authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def _policy(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/status":
            return httpx.Response(
                200,
                json={
                    "enabled": self.enabled,
                    "dry_run": True,
                    "ready": True,
                    "policies": {
                        "valid": True,
                        "version": "sha256-abcdefabcdef",
                        "loaded_at": 1.0,
                        "count": 1,
                        "file": "/app/policies.yml",
                        "error": None,
                    },
                    "docker": {"reachable": True},
                    "last_evaluation_at": None,
                    "actions": {"total": len(self.actions), "last_hour": len(self.actions)},
                },
            )
        if path == "/policies":
            return httpx.Response(
                200,
                json={
                    "version": "sha256-abcdefabcdef",
                    "valid": True,
                    "error": None,
                    "errors": [],
                    "items": [
                        {
                            "name": "orders_high_latency_restart",
                            "condition": "latency > 0.5",
                            "action": "restart_container",
                            "service": "orders",
                            "cooldown": 300,
                            "enabled": True,
                            "for": None,
                            "dry_run": False,
                            "params": {},
                            "budget": {},
                            "cooldown_remaining_s": 120.0,
                            "budget_used": {},
                        }
                    ],
                },
            )
        if path == "/actions":
            q = request.url.params
            items = sorted(self.actions, key=lambda a: a["created_at"], reverse=True)
            if q.get("service"):
                items = [a for a in items if a["service"] == q["service"]]
            if q.get("outcome"):
                items = [a for a in items if a["outcome"] == q["outcome"]]
            page = self._page(items, int(q.get("limit", 50)), int(q.get("offset", 0)))
            return httpx.Response(200, json=page)
        if path == "/toggle" and request.method == "POST":
            if not self._authorized(request):
                return httpx.Response(401, json={"detail": "missing or bad token"})
            body = json.loads(request.content or b"{}")
            self.enabled = bool(body["enabled"]) if "enabled" in body else not self.enabled
            return httpx.Response(200, json={"enabled": self.enabled})
        return httpx.Response(404)
