"""Shared request helpers: the engine from app state, paging."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import HTTPException, Request

from anomaly_service.engine import Engine


def engine(request: Request) -> Engine:
    found: Engine = request.app.state.engine
    return found


def page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


def require_token(request: Request) -> None:
    """Write routes: with POLICY_ENGINE_TOKEN set (the platform's one operator token), demand
    `Authorization: Bearer <token>`; 401 otherwise."""
    token: str = request.app.state.token
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token (Authorization: Bearer <POLICY_ENGINE_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
