"""Fixtures shared by every test layer."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.requirements import (
    require_alertmanager,
    require_blackbox_exporter,
    require_chromium,
    require_compose,
    require_docker,
    require_prometheus,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Honour SIGINT even when started as a background job of a script.

    A non-interactive shell starts background jobs with SIGINT ignored and Python keeps it so:
    run-tests.sh's SIGINT to its e2e lanes was then lost, the lanes ran on and their stacks were
    never torn down. With Python's handler back, SIGINT ends the run through the teardowns.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Markers that need real parts skip locally when missing and fail in CI."""
    if item.get_closest_marker("docker") or item.get_closest_marker("e2e"):
        require_docker()
    if item.get_closest_marker("e2e"):
        require_compose()
    if item.get_closest_marker("prometheus"):
        require_prometheus()
    if item.get_closest_marker("alertmanager"):
        require_alertmanager()
    if item.get_closest_marker("blackbox"):
        require_blackbox_exporter()
    if item.get_closest_marker("browser"):
        require_chromium()


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def tmp_workdir(tmp_path: Path) -> Path:
    return tmp_path
