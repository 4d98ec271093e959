"""A real engine process picks up good edits live; a broken edit is reported and changes nothing."""

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


def policy(name: str, service: str, url: str, condition: str = "latency > 0.5") -> str:
    return f"""  - name: {name}
    condition: "{condition}"
    action: alert
    service: {service}
    cooldown: 0
    params: {{url: "{url}"}}
"""


def test_hot_reload_good_and_broken_edits(tmp_path: Path, receiver: Receiver) -> None:
    path = tmp_path / "policies.yml"
    path.write_text("policies:\n" + policy("orders_page", "orders", receiver.url))
    engine = start_engine(tmp_path, path)
    try:
        v1 = httpx.get(engine.url + "/policies", timeout=5).json()
        assert v1["valid"]
        assert [p["name"] for p in v1["items"]] == ["orders_page"]
        # users alerts match nothing yet
        r = httpx.post(engine.url + "/alerts", json=firing("u1", "users"), headers=AUTH, timeout=5)
        assert r.json()["scheduled"] == []

        # a good edit: add a users policy -> picked up by the file watcher, no API call
        path.write_text(
            "policies:\n"
            + policy("orders_page", "orders", receiver.url)
            + policy("users_page", "users", receiver.url)
        )
        v2 = wait_for(
            lambda: (
                (b := httpx.get(engine.url + "/policies", timeout=5).json())["version"]
                != v1["version"]
                and b
            ),
            what="new version",
        )
        assert v2["valid"]
        assert {p["name"] for p in v2["items"]} == {"orders_page", "users_page"}
        r = httpx.post(engine.url + "/alerts", json=firing("u2", "users"), headers=AUTH, timeout=5)
        assert [s["policy"] for s in r.json()["scheduled"]] == ["users_page"]
        wait_for(lambda: len(receiver.bodies) == 1, what="users alert delivered")

        # a broken edit: unknown metric -> reported everywhere, old set keeps acting
        path.write_text(
            "policies:\n" + policy("orders_page", "orders", receiver.url, "latencyy > 0.5")
        )
        status = wait_for(
            lambda: (
                (s := httpx.get(engine.url + "/status", timeout=5).json())["policies"]["valid"]
                is False
                and s
            ),
            what="invalid reported",
        )
        error = status["policies"]["error"]
        assert error["file"] == str(path)
        assert error["policy"] == "orders_page"
        assert error["field"] == "condition"
        assert "unknown metric 'latencyy'" in error["message"]
        assert status["policies"]["version"] == v2["version"]
        listing = httpx.get(engine.url + "/policies", timeout=5).json()
        assert listing["valid"] is False
        assert listing["error"] == error
        assert {p["name"] for p in listing["items"]} == {"orders_page", "users_page"}
        assert "policy_engine_policies_valid 0.0" in httpx.get(engine.url + "/metrics").text
        forced = httpx.post(engine.url + "/policies/reload", headers=AUTH, timeout=5)
        assert forced.status_code == 422
        assert forced.json()["error"] == error
        r = httpx.post(engine.url + "/alerts", json=firing("u3", "users"), headers=AUTH, timeout=5)
        assert [s["policy"] for s in r.json()["scheduled"]] == ["users_page"]
        wait_for(lambda: len(receiver.bodies) == 2, what="old policy still acting")

        # fixing the file takes effect again
        path.write_text("policies:\n" + policy("orders_page", "orders", receiver.url))
        wait_for(
            lambda: httpx.get(engine.url + "/status", timeout=5).json()["policies"]["valid"],
            what="valid again",
        )
        names = [p["name"] for p in httpx.get(engine.url + "/policies", timeout=5).json()["items"]]
        assert names == ["orders_page"]
        assert actions(engine, outcome="succeeded")["total"] == 2
    finally:
        engine.stop()
