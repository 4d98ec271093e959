"""Thin async HTTP adapters: the services' fault API and health, the anomaly service and the
policy engine. Every call has a timeout; connection failures become TargetUnreachable."""

from __future__ import annotations

from typing import Any

import httpx

from chaos_simulator.targets import Targets, TargetUnreachable, describe_error


class ApiError(Exception):
    """A target answered, but not with success: status and its message."""

    def __init__(self, name: str, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"{name} answered HTTP {status}: {message}")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):  # FastAPI validation errors
            return "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                if isinstance(d, dict)
                else str(d)
                for d in detail
            )
        return str(detail)
    return str(body)[:300]


class Api:
    """One named target (a service or a platform component) at a base URL."""

    def __init__(
        self, client: httpx.AsyncClient, name: str, base_url: str, token: str | None = None
    ) -> None:
        self.client = client
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201),
        timeout_s: float = 5.0,
    ) -> httpx.Response:
        url = self.base_url + path
        try:
            response = await self.client.request(
                method, url, json=json, params=params, headers=self.headers, timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            raise TargetUnreachable(self.name, self.base_url, describe_error(exc)) from exc
        if response.status_code not in ok:
            raise ApiError(self.name, response.status_code, _message(response))
        return response

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.decode(await self.call("GET", path, **kwargs))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body, or ApiError when the target answered something else."""
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                self.name, response.status_code, f"not JSON: {response.text[:120]!r}"
            ) from None


class ServiceApi(Api):
    """A demo service: health and the /chaos fault API of contracts.md."""

    async def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "url": self.base_url}
        for probe in ("health", "ready"):
            try:
                response = await self.call("GET", f"/{probe}", ok=(200, 503), timeout_s=3.0)
                out[probe] = response.status_code == 200
            except TargetUnreachable as exc:
                out[probe] = False
                out["error"] = exc.reason
                break
        out["ok"] = bool(out.get("health"))
        return out

    async def faults(self) -> list[dict[str, Any]]:
        body = await self.get_json("/chaos")
        if not isinstance(body, dict) or not isinstance(body.get("faults"), list):
            raise ApiError(self.name, 200, f"GET /chaos is not a fault list: {str(body)[:120]}")
        return list(body["faults"])

    async def inject(self, fault: dict[str, Any]) -> dict[str, Any]:
        body = self.decode(await self.call("POST", "/chaos", json=fault, ok=(200, 201)))
        if not isinstance(body, dict) or "id" not in body:
            raise ApiError(self.name, 201, f"POST /chaos answered no fault id: {str(body)[:120]}")
        return body

    async def clear(self, fault_id: str | None = None) -> int:
        if fault_id is None:
            body = self.decode(await self.call("DELETE", "/chaos"))
            return int(body.get("cleared", 0)) if isinstance(body, dict) else 0
        response = await self.call("DELETE", f"/chaos/{fault_id}", ok=(200, 404))
        return 1 if response.status_code == 200 else 0


def _paged_items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        return list(body.get("items", []))
    return list(body) if isinstance(body, list) else []


class AnomalyApi(Api):
    async def anomalies(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        return _paged_items(await self.get_json("/anomalies", params={"limit": 100, **params}))

    async def predict(self) -> dict[str, Any]:
        return dict(await self.get_json("/predict"))


class PolicyApi(Api):
    async def status(self) -> dict[str, Any]:
        return dict(await self.get_json("/status"))

    async def actions(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        return _paged_items(await self.get_json("/actions", params={"limit": 100, **params}))


class Clients:
    """All adapters over one shared httpx.AsyncClient."""

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
