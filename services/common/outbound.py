"""Outbound calls to another service, measured like OTel's http.client.request.duration."""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client import Histogram

# error_type values: a response (any status) has none; these name why there was no response.
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
OTHER_ERROR = "other"
NO_STATUS = "none"


class DownstreamError(Exception):
    """A downstream call that gave no usable answer; `status` is what the caller should return."""

    def __init__(self, service: str, status: int, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.message = message


def _error_type(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    # ConnectError and a peer that closed the connection both mean "not reachable".
    if isinstance(exc, httpx.ConnectError | httpx.RemoteProtocolError):
        return CONNECTION_ERROR
    return OTHER_ERROR


async def call_service(
    client: httpx.AsyncClient,
    duration: Histogram | None,
    peer: str,
    method: str,
    url: str,
    json: Any = None,
) -> httpx.Response:
    """One request to `peer`; each is one sample (none when `duration` is None), failures
    labelled by error_type."""
    started = time.perf_counter()
    try:
        resp = await client.request(method, url, json=json)
    except httpx.HTTPError as exc:
        kind = _error_type(exc)
        if duration is not None:
            duration.labels(method, peer, NO_STATUS, kind).observe(time.perf_counter() - started)
        if kind == TIMEOUT:
            raise DownstreamError(peer, 504, f"{peer} timed out") from None
        raise DownstreamError(peer, 502, f"{peer} unreachable: {type(exc).__name__}") from None
    if duration is not None:
        elapsed = time.perf_counter() - started
        duration.labels(method, peer, str(resp.status_code), "").observe(elapsed)
    return resp
