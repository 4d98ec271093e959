"""The typed async client of the platform: the demo services' fault API, the anomaly service
and the policy engine (docs/contracts.md). It is the library's public surface: the `chaos`
commands and the scenario logic use nothing else to talk to the platform.

    async with open_client(Targets()) as platform:
        fault = await platform.service("orders").inject(LatencyFault(kind="latency", ms=800))
        open_now = await platform.anomaly.anomalies(service="orders", status="active")

Every call has a timeout (`timeout_s`). Errors say which target: TargetUnreachable when it did
not answer, ApiError when it answered with an error or an unexpected shape, FaultError when a
fault would be refused (checked locally against relia_contracts.faults before it is sent).
Anomalies, actions and policies are the wire records of docs/contracts.md as dicts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from chaos_simulator.faults import FaultError
from chaos_simulator.http import Api, ApiError
from chaos_simulator.targets import Targets, TargetUnreachable
from relia_contracts.faults import FAULT_SPEC_ADAPTER, FaultBase

__all__ = [
    "AnomalyApi",
    "ApiError",
    "EngineStatus",
    "FaultError",
    "FaultRecord",
    "PlatformClient",
    "PolicyApi",
    "Record",
    "ServiceApi",
    "TargetUnreachable",
    "Targets",
    "fault_body",
    "open_client",
]

Record = dict[str, Any]  # an anomaly, action record or policy view (docs/contracts.md)
AnomalyStatus = Literal["active", "resolved"]
PAGE = 100  # newest first: the most recent page is what a watch or a scenario needs


class FaultRecord(BaseModel):
    """An active fault as a service reports it (`POST /chaos`, `GET /chaos`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    kind: str
    params: dict[str, Any] = {}
    duration_s: float | None = None
    started_at: float | None = None
    expires_at: float | None = None


class EngineStatus(BaseModel):
    """The policy engine's `GET /status`: the switches a scenario depends on; the rest of the
    document is kept as extra fields (`model_dump()` gives it back whole)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    dry_run: bool = False
    ready: bool | None = None


def fault_body(fault: FaultBase | Mapping[str, Any]) -> dict[str, Any]:
    """The `POST /chaos` body of a fault, validated by the services' own model: a model is sent
    as its caller set it; a mapping is sent as given once the model accepts it."""
    if isinstance(fault, FaultBase):
        return fault.model_dump(exclude_unset=True)
    try:
        FAULT_SPEC_ADAPTER.validate_python(dict(fault))
    except ValidationError as exc:
        # loc is (kind, field) for a known kind, () or (kind,) when the kind itself is wrong
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'kind'}: {e['msg']}" for e in exc.errors()
        )
        raise FaultError(f"{fault.get('kind')}: {problems}") from None
    return dict(fault)


class ListingApi(Api):
    """A component with paged, filtered lists (`{"items": [...]}`, newest first)."""

    async def listing(self, path: str, timeout_s: float, **filters: Any) -> list[Record]:
        """The `items` of `GET path` with the filters that are set (None: not sent), or
        ApiError naming what came instead."""
        params = {k: v for k, v in filters.items() if v is not None}
        body = await self.get_json(path, params=params, timeout_s=timeout_s)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(self.name, 200, f"GET {path} is not a list of items: {str(body)[:120]}")
        return [dict(i) for i in items if isinstance(i, dict)]


class ServiceApi(Api):
    """A demo service: health and the `/chaos` fault API."""

    async def health(self, timeout_s: float = 3.0) -> Record:
        """{name, url, health, ready, ok[, error]}: never raises for a service that is down."""
        out: Record = {"name": self.name, "url": self.base_url}
        for probe in ("health", "ready"):
            try:
                response = await self.call("GET", f"/{probe}", ok=(200, 503), timeout_s=timeout_s)
                out[probe] = response.status_code == 200
            except TargetUnreachable as exc:
                out[probe] = False
                out["error"] = exc.reason
                break
        out["ok"] = bool(out.get("health"))
        return out

    async def faults(self, timeout_s: float = 5.0) -> list[FaultRecord]:
        body = await self.get_json("/chaos", timeout_s=timeout_s)
        listed = body.get("faults") if isinstance(body, dict) else None
        try:
            if not isinstance(listed, list):
                raise ValueError(listed)
            return [FaultRecord.model_validate(f) for f in listed]
        except (ValueError, ValidationError):
            raise ApiError(
                self.name, 200, f"GET /chaos is not a fault list: {str(body)[:120]}"
            ) from None

    async def inject(
        self, fault: FaultBase | Mapping[str, Any], timeout_s: float = 5.0
    ) -> FaultRecord:
        """POST /chaos; FaultError before sending when the services' model refuses it."""
        response = await self.call("POST", "/chaos", json=fault_body(fault), timeout_s=timeout_s)
        body = self.decode(response)
        try:
            return FaultRecord.model_validate(body)
        except ValidationError:
            raise ApiError(
                self.name, response.status_code, f"POST /chaos answered no fault id: {body!s:.120}"
            ) from None

    async def clear(self, fault_id: str | None = None, timeout_s: float = 5.0) -> int:
        """How many faults were cleared: all of them, or the one `fault_id` (0 if absent)."""
        if fault_id is None:
            body = self.decode(await self.call("DELETE", "/chaos", timeout_s=timeout_s))
            return int(body.get("cleared", 0)) if isinstance(body, dict) else 0
        response = await self.call(
            "DELETE", f"/chaos/{fault_id}", ok=(200, 404), timeout_s=timeout_s
        )
        return 1 if response.status_code == 200 else 0


class AnomalyApi(ListingApi):
    """The anomaly service: anomalies, the scored snapshot."""

    async def health(self, timeout_s: float = 3.0) -> None:
        await self.get_json("/health", timeout_s=timeout_s)

    async def anomalies(
        self,
        *,
        service: str | None = None,
        metric: str | None = None,
        severity: str | None = None,
        status: AnomalyStatus | None = None,
        since: float | None = None,
        limit: int = PAGE,
        offset: int | None = None,
        timeout_s: float = 5.0,
    ) -> list[Record]:
        """`GET /anomalies`, newest first; `severity` is a minimum."""
        return await self.listing(
            "/anomalies", timeout_s, limit=limit, service=service, metric=metric,
            severity=severity, status=status, since=since, offset=offset,
        )  # fmt: skip

    async def anomaly(self, anomaly_id: str, timeout_s: float = 5.0) -> Record:
        body = await self.get_json(f"/anomalies/{anomaly_id}", timeout_s=timeout_s)
        if not isinstance(body, dict):
            raise ApiError(self.name, 200, f"GET /anomalies/{anomaly_id}: not an anomaly")
        return body

    async def predict(self, timeout_s: float = 5.0) -> Record:
        body = await self.get_json("/predict", timeout_s=timeout_s)
        if not isinstance(body, dict):
            raise ApiError(self.name, 200, f"GET /predict is not a snapshot: {str(body)[:120]}")
        return body


class PolicyApi(ListingApi):
    """The policy engine: its state, its policies, the action records, the pause switch."""

    async def status(self, timeout_s: float = 5.0) -> EngineStatus:
        body = await self.get_json("/status", timeout_s=timeout_s)
        try:
            return EngineStatus.model_validate(body)
        except ValidationError:
            raise ApiError(
                self.name, 200, f"GET /status: not a status: {str(body)[:120]}"
            ) from None

    async def plan(self, service: str, timeout_s: float = 5.0) -> Record:
        """`GET /plan?service=`: what the engine would do about the service now, and why not."""
        body = await self.get_json("/plan", params={"service": service}, timeout_s=timeout_s)
        if not isinstance(body, dict):
            raise ApiError(self.name, 200, f"GET /plan is not an object: {str(body)[:120]}")
        return dict(body)

    async def policies(self, timeout_s: float = 5.0) -> list[Record]:
        """The policy views (`items` of `GET /policies`), with cooldowns and budgets."""
        return await self.listing("/policies", timeout_s)

    async def actions(
        self,
        *,
        policy: str | None = None,
        service: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: float | None = None,
        limit: int = PAGE,
        offset: int | None = None,
        timeout_s: float = 5.0,
    ) -> list[Record]:
        """`GET /actions`, newest first."""
        return await self.listing(
            "/actions", timeout_s, limit=limit, policy=policy, service=service, action=action,
            outcome=outcome, since=since, offset=offset,
        )  # fmt: skip

    async def toggle(self, enabled: bool | None = None, timeout_s: float = 5.0) -> bool:
        """Pause (False) or resume (True) remediation; None flips it. Returns the new state.
        Needs the engine's token when it has one (Targets.policy_token)."""
        payload = None if enabled is None else {"enabled": enabled}
        body = self.decode(await self.call("POST", "/toggle", json=payload, timeout_s=timeout_s))
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise ApiError(self.name, 200, f"POST /toggle: no enabled flag in {str(body)[:120]}")
        return bool(body["enabled"])


class PlatformClient:
    """The services, the anomaly service and the policy engine over one httpx.AsyncClient."""

    def __init__(self, targets: Targets, client: httpx.AsyncClient) -> None:
        self.targets = targets
        self.client = client
        self.services = {
            name: ServiceApi(client, name, url) for name, url in targets.services.items()
        }
        self.anomaly = AnomalyApi(client, "anomaly service", targets.anomaly_url)
        self.policy = PolicyApi(client, "policy engine", targets.policy_url, targets.policy_token)

    def service(self, name: str) -> ServiceApi:
        if name not in self.services:
            raise ValueError(f"unknown service {name!r}; known: {', '.join(self.services)}")
        return self.services[name]


@contextlib.asynccontextmanager
async def open_client(targets: Targets, pool: int = 16) -> AsyncIterator[PlatformClient]:
    """A client whose connection pool fits `pool` requests in flight, plus the polls."""
    limits = httpx.Limits(max_connections=pool + 8, max_keepalive_connections=pool + 8)
    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        yield PlatformClient(targets, client)
