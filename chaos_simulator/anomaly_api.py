"""The anomaly service's side of the platform client (client.py): anomalies, their triage
packets, the scored snapshot, the catalog, operator feedback and readiness."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from chaos_simulator.http import ApiError, ListingApi, Record
from relia_contracts.anomalies import FeedbackAnswer, FeedbackLabel, FeedbackPage

AnomalyStatus = Literal["active", "resolved"]
M = TypeVar("M", bound=BaseModel)
PAGE = 100  # newest first: the most recent page is what a watch or a scenario needs


class AnomalyApi(ListingApi):
    """The anomaly service: anomalies, the scored snapshot."""

    async def health(self, timeout_s: float = 3.0) -> None:
        await self.get_json("/health", timeout_s=timeout_s)

    async def ready(self, timeout_s: float = 3.0) -> bool:
        """`GET /ready`: True when its last cycle reached Prometheus recently (200), False
        while it is not ready (503)."""
        response = await self.call("GET", "/ready", ok=(200, 503), timeout_s=timeout_s)
        return response.status_code == 200

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
        """`GET /anomalies`, newest first; `severity` is a minimum; `since` keeps the anomalies
        that overlap [since, now] (an active one always does)."""
        return await self.listing(
            "/anomalies", timeout_s, limit=limit, service=service, metric=metric,
            severity=severity, status=status, since=since, offset=offset,
        )  # fmt: skip

    async def anomaly(self, anomaly_id: str, timeout_s: float = 5.0) -> Record:
        """`GET /anomalies/{id}`: the anomaly with its evidence (band and values)."""
        return await self.get_object(f"/anomalies/{anomaly_id}", "an anomaly", timeout_s=timeout_s)

    async def triage(self, anomaly_id: str, timeout_s: float = 5.0) -> Record:
        """`GET /anomalies/{id}/triage`: what, when, where, impact and the suspected cause."""
        path = f"/anomalies/{anomaly_id}/triage"
        return await self.get_object(path, "a triage packet", timeout_s=timeout_s)

    async def predict(self, timeout_s: float = 5.0) -> Record:
        """`GET /predict`: the latest scored value, band and verdict of every series."""
        return await self.get_object("/predict", "a snapshot", timeout_s=timeout_s)

    async def series(self, timeout_s: float = 5.0) -> list[Record]:
        """The `series` rows of `GET /predict`."""
        rows = (await self.predict(timeout_s=timeout_s)).get("series")
        if not isinstance(rows, list):
            raise ApiError(self.name, 200, f"GET /predict has no series list: {str(rows)[:120]}")
        return [dict(r) for r in rows if isinstance(r, dict)]

    async def catalog(self, timeout_s: float = 5.0) -> list[Record]:
        """The metric catalog of `GET /models` (name, query, direction, floor, ...)."""
        rows = (await self.get_object("/models", "a model view", timeout_s=timeout_s)).get(
            "catalog"
        )
        if not isinstance(rows, list):
            raise ApiError(self.name, 200, f"GET /models has no catalog list: {str(rows)[:120]}")
        return [dict(r) for r in rows if isinstance(r, dict)]

    async def label(
        self, anomaly_id: str, label: FeedbackLabel, reason: str, timeout_s: float = 5.0
    ) -> FeedbackAnswer:
        """`POST /anomalies/{id}/feedback` (201): the stored label and the series' sensitivity."""
        response = await self.call(
            "POST", f"/anomalies/{anomaly_id}/feedback", json={"label": label, "reason": reason},
            ok=(201,), timeout_s=timeout_s,
        )  # fmt: skip
        return self._parse(FeedbackAnswer, self.decode(response), "POST feedback")

    async def feedback(self, limit: int = 500, timeout_s: float = 5.0) -> FeedbackPage:
        """`GET /feedback`: every stored label, newest first."""
        body = await self.get_json("/feedback", params={"limit": limit}, timeout_s=timeout_s)
        return self._parse(FeedbackPage, body, "GET /feedback")

    def _parse(self, model: type[M], body: object, what: str) -> M:
        try:
            return model.model_validate(body)
        except ValidationError:
            raise ApiError(self.name, 200, f"{what}: unexpected shape {str(body)[:120]}") from None
