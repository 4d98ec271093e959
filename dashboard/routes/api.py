"""Backend-for-frontend JSON: the snapshot, one anomaly's evidence, and the pause switch."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, StrictBool

from dashboard.clients import BackendError
from dashboard.poller import Poller
from dashboard.state import actions_for_anomaly

router = APIRouter(prefix="/api")
ANOMALY_ID = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}")


@router.get("/snapshot")
async def snapshot(request: Request) -> dict[str, Any]:
    """The latest aggregated state (what the event stream pushes)."""
    poller: Poller = request.app.state.poller
    hub = request.app.state.hub
    if hub.snapshot is None:
        return poller.snapshot()  # before the first poll: every backend says no_data
    return {**hub.snapshot, "server_time": time.time()}


@router.get("/anomalies/{anomaly_id}")
async def anomaly_detail(anomaly_id: str, request: Request) -> dict[str, Any]:
    """One anomaly with its evidence series, the actions it triggered, its triage packet and
    links out."""
    poller = request.app.state.poller
    if not ANOMALY_ID.fullmatch(anomaly_id):
        # Only ids that can be a path segment as they are: nothing to traverse or smuggle.
        raise HTTPException(422, "anomaly id must be 1-128 letters, digits, '-', '_' or '.'")
    try:
        anomaly = await request.app.state.anomaly.request("GET", f"/anomalies/{anomaly_id}")
    except BackendError as exc:
        if exc.status == 404:
            raise HTTPException(404, f"anomaly {anomaly_id} not found") from None
        raise HTTPException(502, f"anomaly service: {exc}") from None
    if not isinstance(anomaly, dict):
        raise HTTPException(502, "anomaly service: unexpected answer")
    actions, actions_error = await _related_actions(request, anomaly, anomaly_id)
    # The triage packet (docs/root-cause.md); without it the page still shows the rest.
    triage = await request.app.state.anomaly.get(f"/anomalies/{anomaly_id}/triage")
    triage_ok = triage.ok and isinstance(triage.data, dict)
    return {
        "anomaly": anomaly,
        "actions": actions,
        "actions_error": actions_error,
        "triage": triage.data if triage_ok else None,
        "triage_error": None if triage_ok else f"anomaly service: {triage.error or 'bad triage'}",
        "links": poller.links.for_anomaly(anomaly),
        "server_time": time.time(),
    }


ACTION_PAGE = 500
ACTION_PAGES = 4  # guard skips are audited every evaluation: read up to 2000 records, no more


async def _related_actions(
    request: Request, anomaly: dict[str, Any], anomaly_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The policy engine's records for this anomaly (newest-first pages, bounded)."""
    params: dict[str, Any] = {"limit": ACTION_PAGE}
    if isinstance(anomaly.get("service"), str):
        params["service"] = anomaly["service"]
    if isinstance(anomaly.get("opened_at"), int | float):
        params["since"] = anomaly["opened_at"] - 1
    items: list[Any] = []
    note = None
    try:
        for page_no in range(ACTION_PAGES):
            page = await request.app.state.policy.request(
                "GET", "/actions", params={**params, "offset": page_no * ACTION_PAGE}
            )
            batch = page.get("items") if isinstance(page, dict) else None
            if not isinstance(batch, list):
                return [], "policy engine: unexpected answer from GET /actions"
            items.extend(batch)
            total = page.get("total")
            if len(batch) < ACTION_PAGE or (isinstance(total, int) and len(items) >= total):
                break
        else:
            note = f"only the newest {len(items)} records of the service were searched"
    except BackendError as exc:
        return [], f"policy engine: {exc}"
    return actions_for_anomaly(items, anomaly_id), note


class ToggleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool


def _same_origin(request: Request) -> bool:
    """Reject cross-site posts: a page elsewhere must not pause remediation through us."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser cross-origin request (curl, tests)
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.post("/toggle")
async def toggle(body: ToggleBody, request: Request) -> dict[str, Any]:
    """Pause or resume remediation: the server calls the policy engine with its own token."""
    if not _same_origin(request):
        raise HTTPException(403, "cross-origin request refused")
    try:
        answer = await request.app.state.policy.request(
            "POST", "/toggle", json={"enabled": body.enabled}
        )
    except BackendError as exc:
        if exc.status in (401, 403):
            raise HTTPException(
                502,
                f"policy engine refused the dashboard's credentials (HTTP {exc.status}); "
                "check POLICY_ENGINE_TOKEN",
            ) from None
        raise HTTPException(502, f"policy engine: {exc}") from None
    request.app.state.poller.kick()
    enabled = answer.get("enabled") if isinstance(answer, dict) else None
    if not isinstance(enabled, bool):
        raise HTTPException(502, "policy engine: answer has no boolean 'enabled'")
    return {"enabled": enabled}
