"""Reads what the policy engine knows (recent actions, policies, switch, plan) for triage."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from anomaly_service.triage import Part


class PlatformReader(Protocol):
    async def actions(self, service: str, since: float) -> Part: ...

    async def status(self) -> Part: ...

    async def plan(self, service: str) -> Part: ...

    async def changes(self, service: str, since: float) -> Part: ...

    async def aclose(self) -> None: ...


class PolicyEngineReader:
    """GET /actions and /status of the policy engine, with a short timeout; never raises."""

    def __init__(self, url: str, token: str = "", timeout_s: float = 2.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Part:
        if not self.url:
            return Part(unavailable="no policy engine configured (POLICY_ENGINE_URL)")
        try:
            resp = await self._client.get(self.url + path, params=params)
        except httpx.HTTPError as exc:
            return Part(unavailable=f"policy engine unreachable: {type(exc).__name__}")
        if resp.status_code != 200:
            return Part(unavailable=f"policy engine answered {resp.status_code} on {path}")
        try:
            return Part(resp.json())
        except ValueError:
            return Part(unavailable=f"policy engine sent no JSON on {path}")

    async def actions(self, service: str, since: float) -> Part:
        part = await self._get("/actions", {"service": service, "since": since, "limit": 50})
        if part.unavailable is None:
            items = part.value.get("items") if isinstance(part.value, dict) else None
            part = Part(items) if isinstance(items, list) else Part(unavailable="bad /actions")
        return part

    async def status(self) -> Part:
        return await self._get("/status")

    async def plan(self, service: str) -> Part:
        """Which policy would act on the service now, or why none would (GET /plan)."""
        return await self._get("/plan", {"service": service})

    async def changes(self, service: str, since: float) -> Part:
        """The service's container lifecycle events from the Docker events stream (GET /changes;
        the policy engine holds the Docker socket, the anomaly service does not)."""
        part = await self._get("/changes", {"service": service, "since": since})
        if part.unavailable is None:
            items = part.value.get("items") if isinstance(part.value, dict) else None
            part = Part(items) if isinstance(items, list) else Part(unavailable="bad /changes")
        return part

    async def aclose(self) -> None:
        await self._client.aclose()
