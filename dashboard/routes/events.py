"""Server-sent events: `snapshot` when content changed, `heartbeat` (backend ages) otherwise."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

router = APIRouter(prefix="/api")


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(request: Request) -> AsyncIterator[str]:
    hub = request.app.state.hub
    poll = request.app.state.poller.poll_interval_s
    hub.clients += 1
    try:
        # Ask the browser to reconnect quickly if the stream breaks.
        yield "retry: 2000\n\n"
        tick, version = hub.tick, -1
        while True:
            snap = hub.snapshot
            if snap is not None and hub.version != version:
                version = hub.version
                yield sse("snapshot", {**snap, "server_time": time.time()})
            elif snap is not None:
                yield sse("heartbeat", {"server_time": time.time(), "backends": snap["backends"]})
            else:
                yield ": waiting for the first poll\n\n"
            if await request.is_disconnected():
                return
            # Bounded wait: a heartbeat at least every two poll intervals even if polls stall.
            tick = await hub.wait(tick, timeout_s=2 * poll)
    finally:
        hub.clients -= 1


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    return StreamingResponse(
        stream(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
