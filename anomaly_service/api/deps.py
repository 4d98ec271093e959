"""Shared request helpers: the engine from app state, paging."""

from __future__ import annotations

from typing import Any

from fastapi import Request

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
