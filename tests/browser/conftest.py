"""Fixtures of the dashboard browser tests: the real stack, headless Chromium, screenshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dashboard_stack import Stack, remove_container, start_labelled_container

from tests.support.requirements import chromium_path, in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]
SHOTS = REPO_ROOT / ".artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if chromium_path() is None and not in_ci():
        pytest.skip("chromium not available")  # the browser marker fails this in CI
    stack = Stack(tmp_path_factory.mktemp("dashboard-stack"))
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    try:
        yield stack
    finally:
        stack.stop()


def launch_chromium() -> Iterator[object]:
    """Headless Chromium through Playwright, closed when the generator ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[object]:
    yield from launch_chromium()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def shoot() -> Callable[[object, str], Path]:
    """Save a full-page PNG under .artifacts/screenshots/ (what a user sees)."""

    def save(page: object, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        assert path.stat().st_size > 10_000, f"screenshot {path} looks empty"
        return path

    return save


@pytest.fixture
def users_container(stack: Stack) -> Iterator[str]:
    """A users replica in the stack's own compose project, removed even if the test fails."""
    name = f"{stack.project}-users-1"
    try:
        yield start_labelled_container(stack.project, "users")
    finally:
        remove_container(name)
