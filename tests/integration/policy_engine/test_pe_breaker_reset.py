"""The real engine process: a breaker opened by real failed restarts (Docker unreachable) is
closed by POST /breakers/{target}/reset, audited, and the reset survives a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
from pe_support import AUTH, actions, firing, start_engine, wait_for

POLICIES = """
settings:
  breaker: {failures: 1, open_for: 1h}
policies:
  - name: orders_restart
    condition: "latency > 0.5"
    action: restart_container
    service: orders
    cooldown: 0
"""
# Docker at an address nothing listens on: every restart fails for real (docker_unavailable).
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/relia-docker.sock", "GRACE_PERIOD_S": "0"}


def breaker(url: str) -> dict[str, object]:
    found: dict[str, object] = httpx.get(url + "/status", timeout=5).json()["breakers"]
    return found


def test_breaker_reset_on_the_real_engine(tmp_path: Path) -> None:
    policies = tmp_path / "policies.yml"
    policies.write_text(POLICIES)
    engine = start_engine(tmp_path, policies, **NO_DOCKER)
    try:
        r = httpx.post(engine.url + "/alerts", json=firing("fp-b1"), headers=AUTH, timeout=10)
        assert r.status_code == 200, r.text
        opened = wait_for(
            lambda: (
                breaker(engine.url).get("orders", {}).get("state") == "open"  # type: ignore[union-attr]
                and breaker(engine.url)
            ),
            timeout_s=30,
            what="the breaker to open after a failed restart",
        )
        assert opened["orders"]["failures"] == 1  # type: ignore[index]
        url = engine.url + "/breakers/orders/reset"
        body = {"reason": "docker socket fixed", "actor": "itest"}
        assert httpx.post(url, json=body, timeout=5).status_code == 401
        cross = httpx.post(url, json=body, headers={**AUTH, "Origin": "http://evil"}, timeout=5)
        assert cross.status_code == 403
        assert breaker(engine.url)["orders"]["state"] == "open"  # type: ignore[index]
        done = httpx.post(url, json=body, headers=AUTH, timeout=5)
        assert done.status_code == 200, done.text
        assert done.json()["breaker"]["state"] == "closed"
        audit_id = done.json()["action"]["id"]
    finally:
        engine.stop()
    engine = start_engine(tmp_path, policies, **NO_DOCKER)
    try:
        assert breaker(engine.url)["orders"] == {
            "state": "closed",
            "failures": 0,
            "opened_at": None,
        }
        audit = actions(engine, action="breaker_reset")["items"]
        assert [a["id"] for a in audit] == [audit_id]
        assert audit[0]["params"]["by"] == "itest"
        assert audit[0]["trigger"]["reason"] == "docker socket fixed"
        again = httpx.post(
            engine.url + "/breakers/orders/reset", json={"reason": "x"}, headers=AUTH, timeout=5
        )
        assert again.status_code == 409
    finally:
        engine.stop()
