"""A real engine process: toggle, cooldowns, budgets, dedupe and the log survive a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pe_support import AUTH, Receiver, actions, firing, start_engine, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_state_survives_engine_restart(tmp_path: Path, receiver: Receiver) -> None:
    policies = tmp_path / "policies.yml"
    policies.write_text(f"""
policies:
  - name: page_with_cooldown
    condition: "latency > 0.5"
    action: alert
    service: orders
    cooldown: 1h
    params: {{url: "{receiver.url}"}}
  - name: page_with_budget
    condition: "latency > 0.5"
    action: alert
    service: orders
    cooldown: 0
    budget: {{max: 1, window: 1h}}
    params: {{url: "{receiver.url}"}}
""")
    engine = start_engine(tmp_path, policies)
    try:
        r = httpx.post(engine.url + "/alerts", json=firing("fp1"), headers=AUTH, timeout=10)
        assert r.status_code == 200
        assert len(r.json()["scheduled"]) == 2
        done = wait_for(lambda: actions(engine)["total"] == 2 and actions(engine), what="2 actions")
        assert {a["outcome"] for a in done["items"]} == {"succeeded"}
        assert len(receiver.bodies) == 2
        assert receiver.bodies[0]["service"] == "orders"
        first_ids = sorted(a["id"] for a in done["items"])
        r = httpx.post(engine.url + "/toggle", json={"enabled": False}, headers=AUTH, timeout=5)
        assert r.json() == {"enabled": False}
    finally:
        engine.stop()  # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal
        assert "policy engine stopped cleanly" in engine.log_text(), engine.log_text()[-3000:]

    engine = start_engine(tmp_path, policies)
    try:
        status = httpx.get(engine.url + "/status", timeout=5).json()
        assert status["enabled"] is False  # the pause survived
        log = actions(engine)
        assert sorted(a["id"] for a in log["items"] if a["action"] == "alert") == first_ids
        assert log["total"] == 3  # two alerts + the audited toggle
        items = {
            p["name"]: p for p in httpx.get(engine.url + "/policies", timeout=5).json()["items"]
        }
        assert items["page_with_cooldown"]["cooldown_remaining_s"] > 3000
        assert items["page_with_budget"]["budget_used"]["policy"]["used"] == 1
        # the same delivery again is still a duplicate
        again = httpx.post(engine.url + "/alerts", json=firing("fp1"), headers=AUTH, timeout=10)
        assert again.json()["duplicates"] == 1
        # resume (empty body flips) and trigger a new anomaly: cooldown and budget both hold
        flip = httpx.post(engine.url + "/toggle", headers=AUTH, timeout=5)
        assert flip.json() == {"enabled": True}
        r = httpx.post(engine.url + "/alerts", json=firing("fp2"), headers=AUTH, timeout=10)
        assert len(r.json()["scheduled"]) == 2
        skipped = wait_for(
            lambda: (
                actions(engine, outcome="skipped")["total"] == 2
                and actions(engine, outcome="skipped")
            ),
            what="2 skips",
        )
        reasons = {a["policy"]: a["reason"] for a in skipped["items"]}
        assert reasons == {"page_with_cooldown": "cooldown", "page_with_budget": "budget"}
        assert len(receiver.bodies) == 2  # nothing new was sent
        metrics = httpx.get(engine.url + "/metrics", timeout=5).text
        assert 'policy_engine_guard_skips_total{reason="cooldown"} 1.0' in metrics
    finally:
        engine.stop()
