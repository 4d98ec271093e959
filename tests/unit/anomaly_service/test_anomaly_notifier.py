"""Event delivery: bearer token, retries with exponential backoff, bounded queue, give-up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from anomaly_service.notifier import HttpNotifier


class Receiver:
    """An httpx MockTransport handler failing the first `fail` requests."""

    def __init__(self, fail: int = 0, status: int = 503) -> None:
        self.fail, self.status = fail, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.fail:
            return httpx.Response(self.status)
        return httpx.Response(200, json={"ok": True})


def notifier(receiver: Receiver, sleeps: list[float], **kw: Any) -> HttpNotifier:
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return HttpNotifier(
        url="http://policy/alerts", transport=httpx.MockTransport(receiver), sleep=fake_sleep, **kw
    )


def run(n: HttpNotifier, payloads: list[dict[str, object]]) -> list[bool]:
    async def go() -> list[bool]:
        await n.start()
        accepted = [n.submit(p) for p in payloads]
        assert await n.drain(5.0)
        await n.stop()
        return accepted

    return asyncio.run(go())


def test_delivers_in_order_with_bearer_token() -> None:
    rx, sleeps = Receiver(), list[float]()
    outcomes: list[str] = []
    n = notifier(rx, sleeps, token="s3cret", observer=outcomes.append)
    assert run(n, [{"n": 1}, {"n": 2}]) == [True, True]
    assert [json.loads(r.content) for r in rx.requests] == [{"n": 1}, {"n": 2}]
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in rx.requests)
    assert outcomes == ["delivered", "delivered"]
    assert sleeps == []
    assert n.stats()["delivered"] == 2


def test_no_token_no_authorization_header() -> None:
    rx: Receiver = Receiver()
    run(notifier(rx, []), [{"n": 1}])
    assert "authorization" not in rx.requests[0].headers


def test_retries_with_exponential_backoff_then_delivers() -> None:
    rx, sleeps = Receiver(fail=3), list[float]()
    n = notifier(rx, sleeps, backoff_initial_s=0.5, backoff_max_s=1.5, max_attempts=6)
    run(n, [{"n": 1}])
    assert len(rx.requests) == 4
    assert sleeps == [0.5, 1.0, 1.5]
    s = n.stats()
    assert (s["delivered"], s["retries"], s["failed"]) == (1, 3, 0)


def test_gives_up_after_max_attempts_and_moves_on() -> None:
    rx, sleeps = Receiver(fail=3, status=500), list[float]()
    n = notifier(rx, sleeps, max_attempts=3)
    run(n, [{"n": 1}, {"n": 2}])
    s = n.stats()
    assert (s["failed"], s["delivered"]) == (1, 1)
    assert s["last_error"] == "HTTP 500"
    assert [json.loads(r.content)["n"] for r in rx.requests] == [1, 1, 1, 2]


def test_unreachable_receiver_is_retried_not_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    n = HttpNotifier(
        url="http://policy/alerts",
        transport=httpx.MockTransport(refuse),
        sleep=fake_sleep,
        max_attempts=2,
    )
    run(n, [{"n": 1}])
    assert n.stats()["failed"] == 1
    assert "ConnectError" in n.stats()["last_error"]


def test_full_queue_drops_instead_of_blocking() -> None:
    n = HttpNotifier(url="http://policy/alerts", queue_size=2)
    # Not started: nothing drains, so the third submit must not block the caller.
    assert [n.submit({"n": i}) for i in range(3)] == [True, True, False]
    assert n.stats()["dropped"] == 1
    assert n.stats()["queue_depth"] == 2


def test_without_a_receiver_events_are_counted_as_dropped() -> None:
    n = HttpNotifier(url="")
    assert n.submit({"n": 1}) is False
    assert n.stats()["dropped"] == 1
