"""Skip-or-fail for tests that need real parts: in CI (CI=true) a missing part fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(available: bool, what: str) -> None:
    """Skip locally when `what` is missing; fail in CI, where nothing may be skipped."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def compose_available() -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "compose", "version"], capture_output=True, timeout=20
            ).returncode
            == 0
        )
    except (subprocess.TimeoutExpired, OSError):
        return False


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_docker() -> None:
    require(docker_available(), "a running Docker engine")


def require_compose() -> None:
    require(docker_available() and compose_available(), "Docker Compose v2")


def require_prometheus() -> None:
    require(shutil.which("prometheus") is not None, "the prometheus binary")


BLACKBOX_EXPORTER = "prometheus-blackbox-exporter"  # Debian's name for blackbox_exporter


def require_blackbox_exporter() -> None:
    require(shutil.which(BLACKBOX_EXPORTER) is not None, "the blackbox exporter binary")


def require_chromium() -> None:
    require(chromium_path() is not None, "chromium")


ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for alertmanager


def require_alertmanager() -> None:
    require(
        shutil.which(ALERTMANAGER) is not None, "the Alertmanager binary (prometheus-alertmanager)"
    )


def require_amtool() -> None:
    require(shutil.which("amtool") is not None, "amtool (Debian's prometheus-alertmanager)")
