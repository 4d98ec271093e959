"""Operator feedback and the breaker reset in headless Chromium, against the real anomaly
service and policy engine (the dashboard holds the token; the page never does)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest
from dashboard_stack import Stack, wait_for
from test_dashboard_browser import WAIT_MS, Shoot
from test_dashboard_browser import open_view as goto

pytestmark = [pytest.mark.browser, pytest.mark.prometheus]


def test_feedback_buttons_precision_and_sensitivity_reset(
    page: Any, stack: Stack, shoot: Shoot
) -> None:
    stack.wait_warm("orders", "latency")
    stack.exporters["orders"].latency_s = 0.9
    try:
        active = wait_for(
            lambda: stack.anomaly_get("/anomalies", service="orders", status="active")["items"],
            120,
            "an orders anomaly",
        )
        anomaly_id = active[0]["id"]
        goto(page, stack, f"anomaly/{anomaly_id}")
        form = page.locator(f'[data-testid="feedback-form"][data-anomaly="{anomaly_id}"]')
        form.wait_for(timeout=WAIT_MS)
        # no reason: refused in the page, nothing stored
        form.locator('[data-testid="feedback-noise"]').click()
        page.locator('[data-testid="feedback-error"]').wait_for(timeout=WAIT_MS)
        assert stack.anomaly_get("/feedback")["total"] == 0
        form.locator('[data-testid="feedback-reason"]').fill("load test, expected")
        form.locator('[data-testid="feedback-mute"]').select_option("900")
        form.locator('[data-testid="feedback-noise"]').click()
        page.locator('[data-testid="feedback-record"][data-label="noise"]').wait_for(
            timeout=WAIT_MS
        )
        text = page.locator('[data-testid="feedback-sensitivity"]').inner_text()
        assert "\u00d71.50" in text
        assert "muted until" in text
        stored = stack.anomaly_get("/feedback")["items"]
        assert [(f["label"], f["reason"]) for f in stored] == [("noise", "load test, expected")]
        precision = page.locator(
            '[data-testid="precision-row"][data-service="orders"][data-metric="latency"]'
        )
        precision.wait_for(timeout=WAIT_MS)
        assert precision.locator('[data-testid="precision-value"]').inner_text() == "0%"
        row = page.locator(
            f'[data-testid="sensitivity-row"][data-series="{stored[0]["series_id"]}"]'
        )
        assert row.locator('[data-testid="sensitivity-factor"]').inner_text() == "\u00d71.50"
        shoot(page, "feedback")
        row.locator('[data-testid="sensitivity-reset"]').click()
        wait_for(
            lambda: stack.anomaly_get("/sensitivity")["items"][0]["factor"] == 1.0,
            30,
            "the sensitivity reset",
        )
        page.wait_for_function(
            "() => document.querySelector('[data-testid=sensitivity-factor]')"
            "?.textContent === '\u00d71.00'",
            timeout=WAIT_MS,
        )
    finally:
        stack.exporters["orders"].latency_s = 0.02


def test_breaker_reset_button(page: Any, stack: Stack, shoot: Shoot) -> None:
    assert stack.policy is not None
    # An open breaker as the engine's own store holds it (opening one for real takes failed
    # Docker restarts: tests/integration/policy_engine/test_pe_breaker_reset.py does that).
    db = sqlite3.connect(stack.workdir / "policy-state" / "policy-engine.sqlite3")
    with db:
        db.execute(
            "INSERT OR REPLACE INTO breakers (target, state, failures, opened_at, "
            "trial_in_flight) VALUES ('users', 'open', 3, ?, 0)",
            (time.time(),),
        )
    db.close()
    goto(page, stack, "policies")
    row = page.locator('[data-testid="breaker-row"][data-target="users"][data-state="open"]')
    row.wait_for(timeout=WAIT_MS)
    shoot(page, "breaker-open")
    row.locator('[data-testid="breaker-reason"]').fill("fixed by hand")
    row.locator('[data-testid="breaker-reset"]').click()
    page.locator('[data-testid="breaker-row"][data-target="users"][data-state="closed"]').wait_for(
        timeout=WAIT_MS
    )
    audit = stack.policy_get("/actions", action="breaker_reset")["items"]
    assert len(audit) == 1
    assert audit[0]["service"] == "users"
    assert audit[0]["params"]["by"] == "dashboard"
    assert audit[0]["trigger"]["reason"] == "fixed by hand"
