"""In-process helpers for the services' unit tests: apps over ASGI, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.users.app import create_app as create_users
from services.users.config import UsersSettings


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client that talks to it in process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


@pytest.fixture
def serving():
    """`async with serving(app) as client:` runs the lifespan and talks ASGI in process."""
    return _serving


class ExitRecorder:
    def __init__(self) -> None:
        self.codes: list[int] = []

    def __call__(self, code: int) -> None:
        self.codes.append(code)


@pytest.fixture
def exit_recorder() -> ExitRecorder:
    return ExitRecorder()


@pytest.fixture
def users_app(exit_recorder: ExitRecorder):
    def make(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {"chaos_enabled": False, "chaos_tick_s": 0.05, **overrides}
        return create_users(
            UsersSettings(**values), tracer_provider=TracerProvider(), exit_fn=exit_recorder
        )

    return make
