"""GET /silences and GET /maintenance: what operators said "not now" with (dashboard panel)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from policy_engine.api.deps import get_engine
from policy_engine.maintenance import window_bounds
from policy_engine.silences import silence_active

router = APIRouter()


class SilenceView(BaseModel):
    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    state: str


class SilencesResponse(BaseModel):
    configured: bool  # ALERTMANAGER_URL is set
    url: str | None
    reachable: bool
    fresh: bool  # the cached list is younger than SILENCES_MAX_AGE_S (else it is not applied)
    fetched_at: float | None
    error: str | None
    silences: list[SilenceView]  # active ones only


class WindowView(BaseModel):
    name: str
    services: list[str]
    active: bool
    # active: the current occurrence; absolute windows: their range; weekly ones: their rule
    active_from: float | None = None
    active_until: float | None = None
    start: float | None = None
    end: float | None = None
    weekly: dict[str, Any] | None = None


class MaintenanceResponse(BaseModel):
    now: float
    windows: list[WindowView]


@router.get("/silences", response_model=SilencesResponse)
async def silences(request: Request, refresh: bool = False) -> SilencesResponse:
    """Active Alertmanager silences as the guards see them (`refresh=true` re-reads first)."""
    engine = get_engine(request)
    link = engine.am
    if refresh:
        await link.refresh_silences(min_interval_s=1.0)
    now = engine.clock()
    view = link.view()
    return SilencesResponse(
        configured=link.client is not None,
        url=view["url"],
        reachable=view["reachable"],
        fresh=view["silences_fresh"],
        fetched_at=view["silences_fetched_at"],
        error=view["error"],
        silences=[
            SilenceView(**s.as_dict()) for s in link.silences.silences if silence_active(s, now)
        ],
    )


@router.get("/maintenance", response_model=MaintenanceResponse)
async def maintenance(request: Request) -> MaintenanceResponse:
    """The active policy set's maintenance windows, each with whether it is open now."""
    engine = get_engine(request)
    now = engine.clock()
    out = []
    for window in engine.am.windows:
        bounds = window_bounds(window, now)
        data = window.as_dict()
        out.append(
            WindowView(
                **data,
                active=bounds is not None,
                active_from=bounds[0] if bounds else None,
                active_until=bounds[1] if bounds else None,
            )
        )
    return MaintenanceResponse(now=now, windows=out)
