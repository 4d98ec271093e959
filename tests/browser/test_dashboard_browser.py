"""The dashboard in headless Chromium, against the real anomaly service and policy engine."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard_stack import POLICIES, TOKEN, Stack, wait_for
from playwright.sync_api import Error as PlaywrightError

from tests.support.procs import free_port, start_module

# Real Chromium and a real Prometheus behind the real anomaly service: both markers apply.
pytestmark = [pytest.mark.browser, pytest.mark.prometheus]

Shoot = Callable[[Any, str], Path]
WAIT_MS = 60_000


def open_view(page: Any, stack: Stack, view: str) -> None:
    assert stack.dashboard is not None
    page.goto(f"{stack.dashboard.url}/#{view}")
    page.wait_for_selector('[data-testid="live-status"][data-state="live"]', timeout=WAIT_MS)
    section = view.split("/")[0]
    section = "anomalies" if section == "anomaly" else section  # #anomaly/<id> opens in the list
    page.wait_for_selector(f'[data-testid="view-{section}"]:visible', timeout=WAIT_MS)


def test_overview_shows_services_signals_and_remediation(
    page: Any, stack: Stack, shoot: Shoot
) -> None:
    # Wait until the anomaly service has classified both services' signals.
    wait_for(
        lambda: (
            all(
                s["signals"].get("memory", {}).get("value") is not None
                for s in stack.anomaly_get("/services/health")["services"]
            )
            and len(stack.anomaly_get("/services/health")["services"]) == 2
        ),
        60,
        "both services with signals in /services/health",
    )
    open_view(page, stack, "overview")
    for name in ("orders", "users"):
        card = page.locator(f'[data-testid="service-card"][data-service="{name}"]')
        card.wait_for(timeout=WAIT_MS)
        assert card.locator('[data-testid="replicas"]').inner_text() == "1/1 replicas up"
    # Honest units: the memory the backend reports in bytes is shown in MiB, and so on.
    health = {s["service"]: s for s in stack.anomaly_get("/services/health")["services"]}
    orders_mem = health["orders"]["signals"]["memory"]["value"]
    memory = page.locator('[data-testid="signal-orders-memory"] [data-testid="signal-value"]')
    text = memory.inner_text()
    assert text.endswith(" MiB"), text
    assert abs(float(text.split()[0]) - orders_mem / 1048576) < 2.0  # the exporter's ~60 MiB
    cpu = page.locator('[data-testid="signal-orders-cpu"] [data-testid="signal-value"]')
    assert cpu.inner_text().endswith(" cores")
    # Ratios as percentages: every replica is up, so availability is exactly 100 %.
    avail = page.locator('[data-testid="signal-orders-availability"] [data-testid="signal-value"]')
    assert avail.inner_text() == "100.0 %"
    errors = page.locator('[data-testid="signal-orders-error_rate"] [data-testid="signal-value"]')
    assert errors.inner_text() in ("0.0 %", "no data")  # the exporter serves no 5xx
    wait_for(
        lambda: re.search(
            r"\d (ms|s)$",
            page.locator(
                '[data-testid="signal-orders-latency"] [data-testid="signal-value"]'
            ).inner_text(),
        ),
        30,
        "latency in ms",
    )
    # Remediation block mirrors the policy engine's /status.
    status = stack.policy_get("/status")
    assert status["enabled"] is True
    assert status["dry_run"] is True
    assert page.locator('[data-testid="remediation-state"]').inner_text() == "enabled"
    assert page.locator('[data-testid="dry-run-global"]').is_visible()
    assert page.locator('[data-testid="count-policies"]').inner_text() == str(
        status["policies"]["count"]
    )
    # Sparklines fill from real samples as cycles pass (no reload).
    page.wait_for_selector(
        '[data-testid="signal-orders-memory"] [data-testid="sparkline"]', timeout=WAIT_MS
    )
    assert page.locator('[data-testid="backend-anomaly"]').get_attribute("data-state") == "ok"
    assert page.locator('[data-testid="backend-policy"]').get_attribute("data-state") == "ok"
    shoot(page, "overview")


def test_anomaly_appears_live_and_opens_its_evidence(page: Any, stack: Stack, shoot: Shoot) -> None:
    open_view(page, stack, "anomalies")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    row = page.locator(
        '[data-testid="anomaly-row"][data-service="orders"]'
        '[data-metric="latency"][data-status="active"]'
    )
    assert row.count() == 0
    # Wait for warm baselines, then slow the orders exporter down: p99 goes 20 ms -> ~900 ms.
    stack.wait_warm("orders", "latency")
    stack.exporters["orders"].latency_s = 0.9
    try:
        row.first.wait_for(timeout=120_000)
        seen_at = time.time()
        assert page.evaluate("window.__sameDocument") is True  # arrived live, no reload
        anomaly_id = row.first.get_attribute("data-id")
        api = stack.anomaly_get(f"/anomalies/{anomaly_id}")
        # A figure, not an assertion: how long after opening the anomaly reached the page.
        print(f"\nanomaly on screen {seen_at - api['opened_at']:.1f} s after it opened")
        assert api["service"] == "orders"
        assert api["metric"] == "latency"
        shoot(page, "anomalies")
        # Filters narrow the live list.
        page.select_option('[data-testid="filter-service"]', "users")
        assert page.locator('[data-testid="anomaly-row"][data-service="orders"]').count() == 0
        page.select_option('[data-testid="filter-service"]', "orders")
        row.first.click()
        detail = page.locator(f'[data-testid="anomaly-detail"][data-id="{anomaly_id}"]')
        detail.wait_for(timeout=WAIT_MS)
        chart = detail.locator('[data-testid="evidence-chart"]')
        chart.wait_for(timeout=WAIT_MS)
        assert chart.locator('[data-testid="value-line"]').get_attribute("d")
        assert chart.locator('[data-testid="marker-open"]').count() == 1
        assert chart.locator('[data-testid="band"]').count() == 1
        # The triage packet: orders' own fault (no dependency), its impact, changes, next step.
        triage = detail.locator('[data-testid="triage"][data-state="ok"]')
        triage.wait_for(timeout=WAIT_MS)
        cause = triage.locator('[data-testid="triage-cause"]')
        assert cause.get_attribute("data-caused-by") == ""
        assert "no dependency explains it" in cause.inner_text()
        assert "requests" in triage.locator('[data-testid="triage-impact"]').inner_text()
        assert "remediation" in triage.locator('[data-testid="triage-next-step"]').inner_text()
        # The policy engine's plan for orders: its latency policy, with a verdict.
        planned = triage.locator(
            '[data-testid="triage-plan"][data-policy="orders_high_latency_restart"]'
        )
        assert planned.count() == 1
        assert "orders_high_latency_restart" in planned.inner_text()
        # The policy engine loaded its policies minutes ago: a change of the last 30 minutes.
        assert triage.locator('[data-testid="triage-change"][data-source="policies"]').count() == 1
        prom = detail.locator('[data-testid="link-prometheus"]').get_attribute("href") or ""
        assert prom.startswith(stack.prometheus.url + "/graph?g0.expr=histogram_quantile")
        jaeger = detail.locator('[data-testid="link-jaeger"]').get_attribute("href") or ""
        assert jaeger.startswith("http://127.0.0.1:16686/search?service=orders")
        # The anomaly service pushed the event; the dry-run policy acted on it: a marker.
        first_action = wait_for(
            lambda: next(
                (
                    a
                    for a in stack.policy_get("/actions", service="orders")["items"]
                    if (a.get("trigger") or {}).get("anomaly_id") == anomaly_id
                ),
                None,
            ),
            60,
            "the policy engine's action for the anomaly",
        )
        # No orders container exists here, so the engine skips (no_targets): a grey tick.
        # Real (dry-run) actions get full markers: see the docker test below.
        marker = "marker-skip" if first_action["outcome"] == "skipped" else "marker-action"
        chart.locator(f'[data-testid="{marker}"]').first.wait_for(timeout=WAIT_MS)
        # The action is listed under the chart with its outcome (one audit row per skip reason).
        detail.locator('[data-testid="detail-action"]').first.wait_for(timeout=WAIT_MS)
        assert (
            first_action["outcome"]
            in detail.locator('[data-testid="detail-action"]').first.inner_text()
        )
        shoot(page, "anomaly-detail")
        # The overview shows the loop at a glance: the open anomaly and the action on it.
        open_view(page, stack, "overview")
        page.locator(f'[data-testid="overview-anomaly"] a[href="#anomaly/{anomaly_id}"]').wait_for(
            timeout=WAIT_MS
        )
        # Its actions here are guard skips (no orders container): counted, not listed.
        page.locator('[data-testid="overview-skips"]').wait_for(timeout=WAIT_MS)
        shoot(page, "overview-loop")
        # Recovery: the anomaly resolves live and its chart gains the resolve marker.
        stack.exporters["orders"].latency_s = 0.02
        open_view(page, stack, f"anomaly/{anomaly_id}")
        resolved = page.locator(
            f'[data-testid="anomaly-detail"][data-id="{anomaly_id}"][data-state="resolved"]'
        )
        resolved.wait_for(timeout=120_000)
        assert stack.anomaly_get(f"/anomalies/{anomaly_id}")["status"] == "resolved"
        resolved.locator('[data-testid="marker-resolve"]').wait_for(timeout=WAIT_MS)
        assert (
            page.locator(f'[data-testid="anomaly-row"][data-id="{anomaly_id}"]').get_attribute(
                "data-status"
            )
            == "resolved"
        )
        shoot(page, "anomaly-resolved")
    finally:
        stack.exporters["orders"].latency_s = 0.02


def test_actions_timeline_links_anomaly_policy_and_dry_run(
    page: Any, stack: Stack, shoot: Shoot
) -> None:
    anomaly_id = f"a-test-{uuid.uuid4().hex[:8]}"
    stack.post_alert("users", "latency", 0.93, anomaly_id)
    record = wait_for(
        lambda: next(
            (
                a
                for a in stack.policy_get("/actions", service="users")["items"]
                # settled: the record is written `pending` before the action runs (seen in CI:
                # read pending here, shown skipped by the page a moment later)
                if (a.get("trigger") or {}).get("anomaly_id") == anomaly_id
                and a.get("outcome") != "pending"
            ),
            None,
        ),
        30,
        "the users action in the policy engine, settled",
    )
    open_view(page, stack, "actions")
    row = page.locator(f'[data-testid="action-row"][data-ids~="{record["id"]}"]')
    row.wait_for(timeout=WAIT_MS)
    assert row.get_attribute("data-dry-run") == "true"
    assert row.locator('[data-testid="dry-run-mark"]').is_visible()
    assert row.locator('[data-testid="action-outcome"]').inner_text() == record["outcome"]
    assert row.locator('[data-testid="action-verification"]').inner_text() == record["verification"]
    link = row.locator('[data-testid="action-anomaly-link"]')
    assert link.get_attribute("href") == f"#anomaly/{anomaly_id}"
    policy = row.locator('[data-testid="action-policy-link"]')
    assert policy.inner_text() == "users_high_latency_restart"
    policy.click()
    page.wait_for_selector('[data-testid="view-policies"]:visible', timeout=WAIT_MS)
    open_view(page, stack, "actions")
    row.wait_for(timeout=WAIT_MS)
    shoot(page, "actions")


@pytest.mark.docker
def test_dry_run_action_starts_a_cooldown_that_the_page_counts_down(
    page: Any, stack: Stack, shoot: Shoot, users_container: str
) -> None:
    """The whole loop, dry-run: users slows down -> anomaly -> policy -> dry-run action on the
    (labelled) users container -> marker on the evidence chart, cooldown in the policies view."""
    stack.exporters["users"].latency_s = 0.9
    try:
        record = wait_for(
            lambda: next(
                (
                    a
                    for a in stack.policy_get("/actions", service="users", outcome="dry_run")[
                        "items"
                    ]
                    if not str((a.get("trigger") or {}).get("anomaly_id", "")).startswith("a-test-")
                ),
                None,
            ),
            120,
            "a dry-run action on a users anomaly",
        )
    finally:
        stack.exporters["users"].latency_s = 0.02
    anomaly_id = record["trigger"]["anomaly_id"]
    open_view(page, stack, f"anomaly/{anomaly_id}")
    chart = page.locator(
        f'[data-testid="anomaly-detail"][data-id="{anomaly_id}"] [data-testid="evidence-chart"]'
    )
    chart.wait_for(timeout=WAIT_MS)
    chart.locator('[data-testid="marker-action"]').first.wait_for(timeout=WAIT_MS)
    assert chart.locator('[data-testid="marker-open"]').count() == 1
    # The live list has it too (it may lag the detail fetch by one poll).
    page.locator(f'[data-testid="anomaly-row"][data-id="{anomaly_id}"]').wait_for(timeout=WAIT_MS)
    shoot(page, "anomaly-detail-action")
    assert record["outcome"] == "dry_run", record
    assert record["target"] == users_container or users_container in str(record)
    open_view(page, stack, "actions")
    row = page.locator(f'[data-testid="action-row"][data-ids~="{record["id"]}"]')
    row.wait_for(timeout=WAIT_MS)
    assert row.locator('[data-testid="action-outcome"]').inner_text() == "dry_run"
    # Filters: only dry runs of users, so the skips of other tests are out of the way.
    page.select_option('[data-testid="filter-action-service"]', "users")
    page.select_option('[data-testid="filter-action-outcome"]', "dry_run")
    outcomes = page.locator('[data-testid="action-row"]').evaluate_all(
        "els => els.map(e => e.dataset.outcome)"
    )
    assert outcomes
    assert set(outcomes) == {"dry_run"}
    assert row.is_visible()
    shoot(page, "actions-dry-run")
    api = next(
        p
        for p in stack.policy_get("/policies")["items"]
        if p["name"] == "users_high_latency_restart"
    )
    assert 0 < api["cooldown_remaining_s"] <= 300
    open_view(page, stack, "policies")
    cell = page.locator(
        '[data-testid="policy-row"][data-name="users_high_latency_restart"]'
        ' [data-testid="cooldown-remaining"]'
    )

    def seconds() -> int | None:
        text = cell.inner_text()
        return int(text.split()[0]) if re.fullmatch(r"\d+ s", text) else None

    first = wait_for(seconds, 30, "a cooldown in seconds")
    assert abs(first - api["cooldown_remaining_s"]) <= 30
    wait_for(lambda: (seconds() or first) < first, 15, "the cooldown counting down")
    budget = page.locator(
        '[data-testid="policy-row"][data-name="users_high_latency_restart"]'
        ' [data-testid="budget-used"]'
    ).inner_text()
    used = api["budget_used"]["policy"]  # as the engine counts it (dry runs may not count)
    assert f"policy {used['used']}/{used['max']} per 1 h" in budget, budget
    shoot(page, "policies-cooldown")


def test_policies_show_validation_cooldown_and_file_errors(
    page: Any, stack: Stack, shoot: Shoot
) -> None:
    assert stack.policies_file is not None
    api = stack.policy_get("/policies")
    open_view(page, stack, "policies")
    page.wait_for_selector('[data-testid="policy-file-state"][data-state="valid"]', timeout=WAIT_MS)
    rows = page.locator('[data-testid="policy-row"]')
    assert sorted(rows.evaluate_all("els => els.map(e => e.dataset.name)")) == sorted(
        p["name"] for p in api["items"]
    )
    disabled = page.locator('[data-testid="policy-row"][data-name="users_errors_scale_up"]')
    assert disabled.get_attribute("data-enabled") == "false"
    # The policy that fired in the previous test is in its cooldown (300 s), shown counting.
    users = next(p for p in api["items"] if p["name"] == "users_high_latency_restart")
    remaining = page.locator(
        '[data-testid="policy-row"][data-name="users_high_latency_restart"]'
        ' [data-testid="cooldown-remaining"]'
    ).inner_text()
    if users["cooldown_remaining_s"] > 0:
        assert re.fullmatch(r"\d+ s", remaining), remaining
        assert 0 < int(remaining.split()[0]) <= 300
    else:  # the previous test's action was a skip (no targets): no cooldown started
        assert remaining == "ready"
    shoot(page, "policies")
    # An invalid edit: the error (file, policy, field) shows, the last good set keeps running.
    stack.policies_file.write_text(POLICIES.replace("cooldown: 120", 'cooldown: "soon"'))
    try:
        page.wait_for_selector(
            '[data-testid="policy-file-state"][data-state="invalid"]', timeout=WAIT_MS
        )
        error = page.locator('[data-testid="policy-file-error"]').inner_text()
        assert "cooldown" in error
        assert "users_errors_scale_up" in error
        assert "last good policies keep running" in error
        assert page.locator('[data-testid="policy-row"]').count() == len(api["items"])
        shoot(page, "policies-invalid")
    finally:
        stack.policies_file.write_text(POLICIES)
    page.wait_for_selector('[data-testid="policy-file-state"][data-state="valid"]', timeout=WAIT_MS)


def test_pause_switch_changes_the_policy_engine(page: Any, stack: Stack) -> None:
    open_view(page, stack, "overview")
    switch = page.locator('[data-testid="pause-switch"]')
    switch.wait_for(timeout=WAIT_MS)
    assert stack.policy_get("/status")["enabled"] is True
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    wait_for(lambda: stack.policy_get("/status")["enabled"] is False, 20, "remediation paused")
    page.wait_for_selector('[data-testid="remediation"][data-state="paused"]', timeout=WAIT_MS)
    page.locator('[data-testid="pause-switch"]').click()
    wait_for(lambda: stack.policy_get("/status")["enabled"] is True, 20, "remediation resumed")
    page.wait_for_selector('[data-testid="remediation"][data-state="enabled"]', timeout=WAIT_MS)


def test_token_never_reaches_the_browser(page: Any, stack: Stack) -> None:
    bodies: list[str] = []

    def keep(response: Any) -> None:
        if "text/event-stream" in (response.headers.get("content-type") or ""):
            return  # endless; its events are checked below through the page
        with contextlib.suppress(PlaywrightError):  # a body the browser did not keep
            bodies.append(response.text())

    page.on("response", keep)
    open_view(page, stack, "overview")
    page.locator('[data-testid="pause-switch"]').wait_for(timeout=WAIT_MS)
    for view in ("anomalies", "actions", "policies"):
        open_view(page, stack, view)
    assert TOKEN not in page.content()
    assert bodies
    assert all(TOKEN not in body for body in bodies)
    # The event stream's data (what the page holds) and the raw page sources.
    state = page.evaluate("JSON.stringify(S.snap)")
    assert TOKEN not in state
    assert stack.dashboard is not None
    for path in ("/", "/static/app.js", "/api/snapshot"):
        assert TOKEN not in httpx.get(stack.dashboard.url + path, timeout=5).text


def test_prometheus_down_makes_anomaly_data_stale_with_its_age(
    page: Any, stack: Stack, shoot: Shoot
) -> None:
    """The anomaly service answers but cannot compute: its data ages and is marked stale."""
    assert stack.prometheus is not None
    open_view(page, stack, "overview")
    page.wait_for_selector('[data-testid="backend-anomaly"][data-state="ok"]', timeout=WAIT_MS)
    stack.prometheus.stop()
    try:
        # STALE_AFTER_S is 10 in this stack: after that the banner says stale, with the age.
        banner = page.locator('[data-testid="banner-anomaly"][data-state="stale"]')
        banner.wait_for(timeout=WAIT_MS)
        text = banner.inner_text()
        assert re.search(r"last update \d+ s ago", text), text
        age = int(re.search(r"last update (\d+) s ago", text).group(1))  # type: ignore[union-attr]
        assert age >= 10
        assert page.locator('[data-testid="backend-policy"]').get_attribute("data-state") == "ok"
        # The cards keep the last values, dimmed, under a note with their age.
        note = page.locator('[data-testid="state-anomaly"][data-state="stale"]')
        assert note.count() >= 1
        shoot(page, "anomaly-stale")
    finally:
        stack.prometheus.start()
    page.wait_for_selector('[data-testid="backend-anomaly"][data-state="ok"]', timeout=90_000)


def test_dashboard_without_any_backend_says_so(
    page: Any, stack: Stack, shoot: Shoot, tmp_path: Path
) -> None:
    """Nothing ever answered: no made-up values, explicit unreachable/no-data states."""
    dead_a, dead_p = free_port(), free_port()
    lonely = start_module(
        "dashboard",
        tmp_path,
        env={
            "ANOMALY_SERVICE_URL": f"http://127.0.0.1:{dead_a}",
            "POLICY_ENGINE_URL": f"http://127.0.0.1:{dead_p}",
            "POLL_INTERVAL_S": "1",
        },
        timeout_s=60,
    )
    try:
        page.goto(lonely.url + "/#overview")
        for name in ("anomaly", "policy"):
            page.wait_for_selector(
                f'[data-testid="banner-{name}"][data-state="unreachable"]', timeout=WAIT_MS
            )
        text = page.locator('[data-testid="banner-anomaly"]').inner_text()
        assert "No data to show" in text
        assert page.locator('[data-testid="service-card"]').count() == 0
        assert (
            page.locator('[data-testid="services-empty"]').get_attribute("data-state")
            == "unreachable"
        )
        assert page.locator('[data-testid="remediation"]').get_attribute("data-state") == "no_data"
        assert page.locator('[data-testid="pause-switch"]').count() == 0
        shoot(page, "no-backends")
        for view in ("anomalies", "actions", "policies"):
            page.goto(f"{lonely.url}/#{view}")
            page.wait_for_selector(
                f'[data-testid="view-{view}"] [data-state="unreachable"]', timeout=WAIT_MS
            )
        # The dashboard server itself goes away: the open page says so instead of freezing.
        lonely.stop()
        page.wait_for_selector(
            '[data-testid="banner-dashboard"][data-state="disconnected"]', timeout=WAIT_MS
        )
        assert page.locator('[data-testid="live-status"]').get_attribute("data-state") == (
            "disconnected"
        )
    finally:
        lonely.stop()


def test_backends_stopped_the_page_says_so(page: Any, stack: Stack, shoot: Shoot) -> None:
    assert stack.anomaly is not None
    assert stack.policy is not None
    open_view(page, stack, "overview")
    page.locator('[data-testid="pause-switch"]').wait_for(timeout=WAIT_MS)
    stack.anomaly.stop()
    stack.policy.stop()
    try:
        for name in ("anomaly", "policy"):
            page.wait_for_selector(
                f'[data-testid="banner-{name}"][data-state="unreachable"]', timeout=WAIT_MS
            )
            assert (
                page.locator(f'[data-testid="backend-{name}"]').get_attribute("data-state")
                == "unreachable"
            )
        banner = page.locator('[data-testid="banner-anomaly"]').inner_text()
        assert "unreachable" in banner
        assert "Showing data from" in banner
        # The last known data stays, marked with its age; the switch cannot lie about a state.
        assert page.locator('[data-testid="pause-switch"]').is_disabled()
        assert page.locator('[data-testid="state-policy"]').count() == 1
        assert page.locator('[data-testid="live-status"]').get_attribute("data-state") == "live"
        time.sleep(0)  # the page stays interactive: other views render their states too
        for view in ("anomalies", "actions", "policies"):
            open_view(page, stack, view)
            assert page.locator(f'[data-testid="view-{view}"] [data-state="unreachable"]').count()
        open_view(page, stack, "overview")
        shoot(page, "backends-down")
    finally:
        stack.policy.start(timeout_s=60)
        stack.anomaly.start(timeout_s=60)
    page.wait_for_selector('[data-testid="backend-policy"][data-state="ok"]', timeout=WAIT_MS)
