"""users: create_app(settings) wires the directory into the shared service core."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Counter

from services.common.app import ServiceCore
from services.users.config import UsersSettings
from services.users.domain import Directory, User, UserCreate


def users_router(core: ServiceCore, directory: Directory) -> APIRouter:
    router = APIRouter(prefix="/users", tags=["users"])
    registry = core.metrics.registry
    created = Counter("users_created_total", "Users created.", registry=registry)
    lookups = Counter("users_lookups_total", "User lookups by id.", ["result"], registry=registry)

    @router.get("")
    async def list_users(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        items = directory.store.page(limit, offset)
        return {"items": items, "total": len(directory.store), "limit": limit, "offset": offset}

    @router.get("/{user_id}")
    async def get_user(user_id: str) -> User:
        user = directory.get(user_id)
        lookups.labels("found" if user else "not_found").inc()
        if user is None:
            raise HTTPException(404, f"no user {user_id!r}")
        return user

    @router.post("", status_code=201)
    async def create_user(data: UserCreate) -> User:
        user = directory.create(data, time.time())
        created.inc()
        core.log.info("user created", extra={"user_id": user.id})
        return user

    return router


def create_app(
    settings: UsersSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    exit_fn: Callable[[int], None] = os._exit,
) -> FastAPI:
    core = ServiceCore.create(settings, tracer_provider=tracer_provider, exit_fn=exit_fn)
    directory = Directory(settings.max_items)
    return core.build_app(
        title="users",
        description="Customer directory of the Relia demo (seeded u-1..u-50).",
        routers=[users_router(core, directory)],
    )
