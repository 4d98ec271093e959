"""The `alert` action: POST a JSON payload to a webhook and report how delivery went."""

from __future__ import annotations

import time
from typing import Any

import httpx

from policy_engine.actuator.types import ActionOutcome


class WebhookNotifier:
    """One POST per alert with a timeout; any non-2xx or transport error is a failed delivery."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, url: str, payload: dict[str, Any]) -> ActionOutcome:
        started = time.perf_counter()
        try:
            response = await self._client.post(url, json=payload)
        except httpx.HTTPError as exc:
            return ActionOutcome(
                status="failed",
                targets=[url],
                detail="webhook not delivered",
                error=f"{type(exc).__name__}: {exc}",
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        elapsed = (time.perf_counter() - started) * 1000
        if response.is_success:
            return ActionOutcome(
                status="succeeded",
                targets=[url],
                detail=f"webhook delivered: HTTP {response.status_code}",
                duration_ms=elapsed,
            )
        return ActionOutcome(
            status="failed",
            targets=[url],
            detail="webhook refused",
            error=f"HTTP {response.status_code}: {response.text[:200]}",
            duration_ms=elapsed,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
