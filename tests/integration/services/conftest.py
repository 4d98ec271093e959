"""Shared fixtures of the services' integration tests: the three services as processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import QUIET_SERVICE_ENV, Proc, demo_services


@pytest.fixture
def quiet_env() -> dict[str, str]:
    return dict(QUIET_SERVICE_ENV)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Proc]]:
    with demo_services(tmp_path) as procs:
        yield procs
