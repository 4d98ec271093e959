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

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from chaos_simulator.anomaly_api import PAGE, AnomalyApi, AnomalyStatus
from chaos_simulator.faults import FaultError
from chaos_simulator.http import Api, ApiError, ListingApi, Record
from chaos_simulator.targets import Targets, TargetUnreachable
from relia_contracts.faults import FAULT_SPEC_ADAPTER, FaultBase

__all__ = [
    "PAGE",
    "AnomalyApi",
    "AnomalyStatus",
    "ApiError",
    "EngineStatus",
    "FaultError",
    "FaultRecord",
    "PlatformClient",
    "PolicyApi",
    "PolicyFile",
    "Record",
    "ServiceApi",
    "TargetUnreachable",
    "Targets",
    "fault_body",
    "open_client",
]


class FaultRecord(BaseModel):
    """An active fault as a service reports it (`POST /chaos`, `GET /chaos`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    kind: str
    params: dict[str, Any] = {}
    duration_s: float | None = None
    started_at: float | None = None
    expires_at: float | None = None


class PolicyFile(BaseModel):
    """`policies` of `GET /status`: is the file on disk valid, which version is in force, and
    the file's first error (relia_contracts.policy_views.PoliciesState; the rest is kept)."""

    model_config = ConfigDict(extra="allow")

    valid: bool
    version: str | None = None
    error: dict[str, Any] | None = None


class EngineStatus(BaseModel):
    """The policy engine's `GET /status`: the switches a scenario depends on; the rest of the
    document is kept as extra fields (`model_dump()` gives it back whole)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    dry_run: bool = False
    ready: bool | None = None
    policies: PolicyFile | None = None


GATEWAY_OUT = (502, 503, 504)  # the gateway's answers while the service behind it restarts


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
        self,
        fault: FaultBase | Mapping[str, Any],
        timeout_s: float = 5.0,
        retry_s: float = 0.0,
        retry_every_s: float = 1.0,
    ) -> FaultRecord:
        """POST /chaos (201 Created); FaultError before sending when the services' model refuses
        it. With `retry_s`, retried every `retry_every_s` that long while the service is briefly out
        (no connection, or a gateway's 502/503/504 while it restarts), never on a refusal."""
        body = fault_body(fault)
        deadline = time.monotonic() + retry_s
        while True:
            try:
                response = await self.call("POST", "/chaos", json=body, ok=(201,),
                                           timeout_s=timeout_s)  # fmt: skip
                break
            except (TargetUnreachable, ApiError) as exc:
                passing = not isinstance(exc, ApiError) or exc.status in GATEWAY_OUT
                if not passing or time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(retry_every_s)
        answer = self.decode(response)
        try:
            return FaultRecord.model_validate(answer)
        except ValidationError:
            raise ApiError(
                self.name,
                response.status_code,
                f"POST /chaos answered no fault id: {answer!s:.120}",
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
