"""The operator panel in headless Chromium: active Alertmanager silences and maintenance windows,
from a real Alertmanager through the real policy engine and dashboard; Alertmanager going down
is shown, not hidden."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import launch_chromium
from tests.support.alertmanager import AlertmanagerServer, webhook_route
from tests.support.procs import Proc, free_port, start_module

pytestmark = [pytest.mark.browser, pytest.mark.alertmanager]
WAIT_MS = 30_000
POLICIES = """\
policies:
  - {name: orders_restart, condition: "latency > 0.5", action: restart_container, service: orders}
maintenance:
  - name: db-upgrade
    services: [orders]
    start: "2020-01-01T00:00:00Z"
    end: "2099-01-01T00:00:00Z"
  - name: weekly-patching
    services: ["*"]
    weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Europe/Berlin}
"""


class Setup:
    def __init__(self, workdir: Path) -> None:
        self.am = AlertmanagerServer(workdir, webhook_route("http://127.0.0.1:9/unused"))
        self.procs: list[Proc] = []
        self.workdir = workdir

    def start(self) -> Setup:
        self.am.start()
        policies = self.workdir / "policies.yml"
        policies.write_text(POLICIES)
        (self.workdir / "state").mkdir()
        engine = start_module(
            "policy_engine",
            self.workdir,
            env={
                "POLICIES_FILE": str(policies),
                "STATE_DIR": str(self.workdir / "state"),
                "DRY_RUN": "true",
                "CHECK_INTERVAL": "0.5",
                "COMPOSE_PROJECT": "relia-operator-panel-none",
                "ALERTMANAGER_URL": self.am.url,
                "SILENCES_REFRESH_S": "0.5",
                "SILENCES_MAX_AGE_S": "3",
            },
            timeout_s=60,
        )
        self.procs.append(engine)
        self.dashboard = start_module(
            "dashboard",
            self.workdir,
            env={
                "ANOMALY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing there
                "POLICY_ENGINE_URL": engine.url,
                "POLL_INTERVAL_S": "1",
            },
            timeout_s=60,
        )
        self.procs.append(self.dashboard)
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.am.stop()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    running = Setup(tmp_path_factory.mktemp("operator-panel"))
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(setup: Setup) -> Iterator[object]:  # overrides conftest's: no full stack needed
    yield from launch_chromium()


def test_panel_shows_silences_and_windows_and_alertmanager_down(
    page: Any, setup: Setup, shoot: Any
) -> None:
    silence_id = setup.am.silence({"service": "orders"}, comment="planned failover")
    page.goto(setup.dashboard.url + "/#overview")
    row = page.wait_for_selector(
        f'[data-testid="silence-row"][data-id="{silence_id}"]', timeout=WAIT_MS
    )
    text = row.inner_text()
    assert 'service="orders"' in text
    assert "planned failover" in text
    active = page.locator('[data-testid="window-row"][data-name="db-upgrade"]')
    assert active.get_attribute("data-active") == "true"
    assert "in maintenance" in active.inner_text()
    weekly = page.locator('[data-testid="window-row"][data-name="weekly-patching"]')
    assert "weekly sat 23:00\u201301:00 Europe/Berlin" in weekly.inner_text()  # en dash
    shoot(page, "operator-panel")

    setup.am.expire(silence_id)
    page.wait_for_selector('[data-testid="silences-empty"]', timeout=WAIT_MS)

    setup.am.stop()
    note = page.wait_for_selector(
        '[data-testid="silences"][data-state="unreachable"] [data-testid="silences-note"]',
        timeout=WAIT_MS,
    )
    assert "actions proceed" in note.inner_text()
    shoot(page, "operator-panel-alertmanager-down")
