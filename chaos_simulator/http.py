"""The HTTP transport under the platform client (client.py): one named target at a base URL.
Every call has a timeout; a connection failure becomes TargetUnreachable, an answer that is not
a success (or not JSON where JSON is due) becomes ApiError with the target's own message."""

from __future__ import annotations

from typing import Any

import httpx

from chaos_simulator.targets import TargetUnreachable, describe_error

Record = dict[str, Any]  # an anomaly, action record or policy view (docs/contracts.md)


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

    async def get_object(self, path: str, what: str, **kwargs: Any) -> Record:
        """The JSON object at `GET path`, or ApiError saying it is not `what`."""
        body = await self.get_json(path, **kwargs)
        if not isinstance(body, dict):
            raise ApiError(self.name, 200, f"GET {path} is not {what}: {str(body)[:120]}")
        return body


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
