"""POST /breakers/{target}/reset in process: closes an open breaker at once, audited with who,
when and why; bad input changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_pe_api import AUTH, client, engine_of

from policy_engine.engine import Engine
from policy_engine.guards import BreakerState, breaker_allows

__all__ = ["client"]  # the fixture, shared with test_pe_api.py
URL = "/breakers/orders/reset"


def open_breaker(client: TestClient) -> Engine:
    engine = engine_of(client)
    engine.store.set_breaker("orders", BreakerState("open", 3, engine.clock(), False))
    assert client.get("/status").json()["breakers"]["orders"]["state"] == "open"
    return engine


def test_reset_closes_the_breaker_and_is_audited(client: TestClient) -> None:
    engine = open_breaker(client)
    cfg = engine.effective.breaker
    assert not breaker_allows(engine.store.breaker("orders"), cfg, engine.clock())
    answer = client.post(
        URL, json={"reason": "fixed the config by hand", "actor": "ana"}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["breaker"] == {"state": "closed", "failures": 0, "opened_at": None}
    assert breaker_allows(engine.store.breaker("orders"), cfg, engine.clock())
    audit = client.get("/actions", params={"action": "breaker_reset"}).json()["items"]
    assert len(audit) == 1
    rec = audit[0]
    assert rec["service"] == "orders"
    assert rec["manual"] is True
    assert rec["policy"] == "operator"
    assert rec["params"]["by"] == "ana"
    assert rec["params"]["previous"]["state"] == "open"
    assert rec["params"]["previous"]["failures"] == 3
    assert rec["trigger"]["reason"] == "fixed the config by hand"
    assert rec["created_at"] == engine.clock()
    # a second reset has nothing to reset: 409, no second record
    again = client.post(URL, json={"reason": "again"}, headers=AUTH)
    assert again.status_code == 409
    assert client.get("/actions", params={"action": "breaker_reset"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        (URL, {"reason": "x"}, {}, 401),
        (URL, {"reason": "x"}, {"Authorization": "Bearer nope"}, 401),
        (URL, {}, AUTH, 422),
        (URL, {"reason": ""}, AUTH, 422),
        (URL, {"reason": "   "}, AUTH, 422),
        (URL, {"reason": "x" * 501}, AUTH, 422),
        (URL, {"reason": "x", "who": "?"}, AUTH, 422),
        ("/breakers/payments/reset", {"reason": "x"}, AUTH, 404),
        ("/breakers/-bad%20name/reset", {"reason": "x"}, AUTH, 422),
        (URL, {"reason": "x"}, {**AUTH, "Origin": "https://evil.example"}, 403),
    ],
)
def test_bad_reset_changes_nothing(
    client: TestClient, path: str, body: dict[str, object], headers: dict[str, str], status: int
) -> None:
    engine = open_breaker(client)
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert engine.store.breaker("orders").state == "open"
    assert engine.store.count_actions() == 0
