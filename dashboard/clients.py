"""Thin HTTP adapter to the anomaly service and the policy engine (httpx, every call timed out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr


@dataclass
class Fetched:
    """One GET: `data` on success, else `error` (a short human message) and maybe `status`."""

    data: Any = None
    error: str | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class BackendError(Exception):
    """A backend call that failed; `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    detail = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        # e.g. "All connection attempts failed" (refused) or a DNS failure: say which.
        return f"cannot connect ({detail})" if detail else "cannot connect"
    return f"{type(exc).__name__} ({detail})" if detail else type(exc).__name__


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:300]
    return str(body)[:200]


class BackendClient:
    """JSON over HTTP to one backend. The token, if any, is only ever put in request headers."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: SecretStr | None = None
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self._token = token

    def _headers(self) -> dict[str, str]:
        if self._token is None or not self._token.get_secret_value():
            return {}
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Fetched:
        try:
            return Fetched(data=await self.request("GET", path, params=params))
        except BackendError as exc:
            return Fetched(error=str(exc), status=exc.status)

    async def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Return the decoded JSON body, or raise BackendError with a readable reason."""
        try:
            response = await self.client.request(
                method, self.base_url + path, params=params, json=json, headers=self._headers()
            )
        except httpx.HTTPError as exc:
            raise BackendError(f"{method} {path}: {_describe(exc)}") from None
        if response.status_code >= 400:
            raise BackendError(
                f"{method} {path}: HTTP {response.status_code} {_detail(response)}".rstrip(),
                response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise BackendError(
                f"{method} {path}: answer is not JSON", response.status_code
            ) from None
