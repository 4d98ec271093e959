"""Shared fixtures of the services' integration tests: the three services as processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import Proc, start_module

# No background noise, no exporter: tests see only what they inject.
QUIET = {
    "CHAOS_ENABLED": "false",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
}


@pytest.fixture
def quiet_env() -> dict[str, str]:
    return dict(QUIET)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Proc]]:
    procs: dict[str, Proc] = {}
    try:
        procs["users"] = start_module("services.users", tmp_path, env=QUIET)
        procs["payments"] = start_module("services.payments", tmp_path, env=QUIET)
        procs["orders"] = start_module(
            "services.orders",
            tmp_path,
            env={**QUIET, "USERS_URL": procs["users"].url, "PAYMENTS_URL": procs["payments"].url},
        )
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
