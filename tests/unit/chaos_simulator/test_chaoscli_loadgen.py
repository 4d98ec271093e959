"""The load engine against an in-memory transport (httpx.MockTransport): no sockets."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from chaos_simulator.loadgen import LoadPlan, run_load
from chaos_simulator.mix import DEFAULT_MIX, MixGenerator
from chaos_simulator.targets import Targets


def run(
    plan: LoadPlan, handler, stop: asyncio.Event | None = None, stop_after: float | None = None
):
    async def main():
        ev = stop or asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            if stop_after is not None:
                asyncio.get_running_loop().call_later(stop_after, ev.set)
            return await run_load(plan, MixGenerator(DEFAULT_MIX, 1), Targets(), client, ev)

    return asyncio.run(main())


async def ok(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.001)
    return httpx.Response(201 if request.method == "POST" else 200, json={})


def test_max_requests_bounds_the_run() -> None:
    stats, elapsed = run(LoadPlan(duration_s=5, concurrency=4, max_requests=37), ok)
    assert stats.count == 37
    assert elapsed < 2.0
    assert stats.failed == 0
    assert 1 < stats.peak_in_flight <= 4


def test_rate_paces_the_requests() -> None:
    stats, elapsed = run(LoadPlan(duration_s=1.0, concurrency=8, rate=40), ok)
    assert 0.95 <= elapsed < 1.5
    # 40/s for 1 s: one slot per 25 ms, with no catch-up bursts
    assert 30 <= stats.count <= 42


def test_duration_holds_against_hung_requests() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    start = time.monotonic()
    stats, _ = run(LoadPlan(duration_s=0.5, concurrency=3, timeout_s=20), hang)
    assert time.monotonic() - start < 2.0
    assert stats.count == 0
    assert stats.cancelled == 3


def test_stop_event_ends_the_run_early() -> None:
    stats, elapsed = run(LoadPlan(duration_s=30, concurrency=2), ok, stop_after=0.3)
    assert elapsed < 1.5
    assert stats.count > 0


def test_transport_errors_and_5xx_are_failures() -> None:
    async def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/users"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(500 if request.method == "POST" else 200)

    stats, _ = run(LoadPlan(duration_s=5, concurrency=2, max_requests=200), flaky)
    s = stats.summary(1.0)
    assert s["requests"] == 200
    assert 0 < s["failed"] < 200
    assert "ConnectError: refused" in s["errors"]
    assert "500" in s["status_codes"]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"duration_s": 0}, r"duration must be in \(0, 86400\]"),
        ({"duration_s": 10**9}, r"duration must be in \(0, 86400\]"),
        ({"duration_s": 1, "concurrency": 0}, "concurrency must be >= 1"),
        ({"duration_s": 1, "rate": -1}, "rate must be > 0"),
        ({"duration_s": 1, "max_requests": 0}, "requests must be >= 1"),
        ({"duration_s": 1, "timeout_s": 0}, "timeout must be > 0"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        LoadPlan(**kwargs)
