"""Faults applied to a real app in process: every kind, expiry, clearing, exclusions, 422s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from services.common.fault_workers import CpuBurner, MemoryHog

JSON = {"content-type": "application/json"}


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_chaos_api_roundtrip(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            state = (await client.get("/chaos")).json()
            assert state == {"service": "users", "faults": []}
            created = await client.post("/chaos", json={"kind": "latency", "ms": 1})
            assert created.status_code == 201
            body = created.json()
            assert body["id"].startswith("f-")
            assert body["kind"] == "latency"
            assert body["params"] == {"ms": 1.0, "jitter_ms": 0.0, "probability": 1.0}
            assert body["expires_at"] is None
            assert body["started_at"] > 0
            second = (await client.post("/chaos", json={"kind": "errors", "rate": 0.0})).json()
            faults = (await client.get("/chaos")).json()["faults"]
            assert {f["id"] for f in faults} == {body["id"], second["id"]}
            # clear one
            assert (await client.delete(f"/chaos/{body['id']}")).status_code == 200
            assert (await client.delete(f"/chaos/{body['id']}")).status_code == 404
            assert [f["id"] for f in (await client.get("/chaos")).json()["faults"]] == [
                second["id"]
            ]
            # clear all
            await client.post("/chaos", json={"kind": "hang", "probability": 0})
            assert (await client.delete("/chaos")).json() == {"cleared": 2}
            assert (await client.get("/chaos")).json()["faults"] == []

    run(main())


def test_bad_fault_requests_are_422_with_a_message(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            cases: list[tuple[Any, str]] = [
                ({"kind": "slow"}, "unknown kind 'slow'"),
                ({"kind": "latency", "ms": -1}, "ms: Input should be greater than 0"),
                ({"kind": "errors", "rate": "half"}, "rate: Input should be a valid number"),
                ({"kind": "memory", "mb_per_s": 10, "max_mb": 99999}, "max_mb"),
                ([], "must be a JSON object"),
            ]
            for body, fragment in cases:
                resp = await client.post("/chaos", json=body)
                assert resp.status_code == 422, body
                assert fragment in resp.json()["detail"], resp.text
            resp = await client.post("/chaos", content=b"{not json", headers=JSON)
            assert resp.status_code == 422
            assert "not valid JSON" in resp.json()["detail"]
            # Nothing was activated by the bad requests.
            assert (await client.get("/chaos")).json()["faults"] == []

    run(main())


def test_latency_fault_delays_domain_requests_only(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            await client.post("/chaos", json={"kind": "latency", "ms": 1000})
            started = time.perf_counter()
            assert (await client.get("/users/u-1")).status_code == 200
            assert time.perf_counter() - started >= 0.99
            for path in ("/health", "/ready", "/metrics", "/chaos", "/openapi.json", "/docs"):
                started = time.perf_counter()
                assert (await client.get(path)).status_code == 200, path
                assert time.perf_counter() - started < 0.8, path  # generous: busy machines

    run(main())


def test_errors_fault_answers_the_status(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            fault = (
                await client.post("/chaos", json={"kind": "errors", "rate": 1, "status": 503})
            ).json()
            resp = await client.get("/users/u-2")
            assert resp.status_code == 503
            assert fault["id"] in resp.json()["faults"]
            assert (await client.get("/health")).status_code == 200
            await client.delete("/chaos")
            assert (await client.get("/users/u-2")).status_code == 200

    run(main())


def test_fault_expires_after_its_duration(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            body = {"kind": "errors", "rate": 1, "duration_s": 0.3}
            fault = (await client.post("/chaos", json=body)).json()
            assert abs(fault["expires_at"] - fault["started_at"] - 0.3) < 1e-6
            assert (await client.get("/users/u-3")).status_code == 500

            async def ok() -> bool:
                return (await client.get("/users/u-3")).status_code == 200

            assert await _eventually(ok)
            assert (await client.get("/chaos")).json()["faults"] == []

    run(main())


def test_hang_parks_requests_until_cleared(users_app, serving) -> None:
    async def main() -> None:
        app = users_app()
        async with serving(app) as client:
            await client.post("/chaos", json={"kind": "hang"})
            hung = [asyncio.create_task(client.get("/users/u-4")) for _ in range(3)]
            runtime = app.state.core.runtime

            async def parked() -> bool:
                return runtime.hung_requests == 3

            assert await _eventually(parked)
            await asyncio.sleep(0.3)
            assert not any(t.done() for t in hung)  # still waiting: nothing times them out
            assert (await client.get("/health")).status_code == 200
            assert (await client.delete("/chaos")).json() == {"cleared": 1}
            results = await asyncio.wait_for(asyncio.gather(*hung), timeout=5)
            assert [r.status_code for r in results] == [200, 200, 200]

    run(main())


def test_hung_requests_exhaust_the_service(users_app, serving) -> None:
    async def main() -> None:
        app = users_app(max_in_flight=2, queue_timeout_s=0.3)
        async with serving(app) as client:
            await client.post("/chaos", json={"kind": "hang"})
            hung = [asyncio.create_task(client.get("/users/u-5")) for _ in range(2)]
            runtime = app.state.core.runtime

            async def parked() -> bool:
                return runtime.hung_requests == 2

            assert await _eventually(parked)
            # Every slot is held: a new request waits its queue time, then gets 503.
            resp = await client.get("/users/u-6")
            assert resp.status_code == 503
            assert "saturated" in resp.json()["detail"]
            assert (await client.get("/health")).status_code == 200
            await client.delete("/chaos")
            assert [r.status_code for r in await asyncio.gather(*hung)] == [200, 200]
            assert (await client.get("/users/u-6")).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert "http_server_rejected_requests_total 1.0" in metrics

    run(main())


def test_hang_released_when_its_duration_ends(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            await client.post("/chaos", json={"kind": "hang", "duration_s": 0.4})
            started = time.perf_counter()
            resp = await asyncio.wait_for(client.get("/users/u-7"), timeout=5)
            assert resp.status_code == 200
            assert time.perf_counter() - started >= 0.35

    run(main())


def test_crash_responds_then_exits(users_app, serving, exit_recorder) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            resp = await client.post("/chaos", json={"kind": "crash", "exit_code": 7})
            assert resp.status_code == 201
            assert resp.json()["params"] == {"exit_code": 7}

            async def exited() -> bool:
                return exit_recorder.codes == [7]

            assert await _eventually(exited)

    run(main())


def test_cpu_fault_burns_real_cpu_until_cleared(users_app, serving) -> None:
    async def main() -> None:
        app = users_app()
        async with serving(app) as client:
            burner = app.state.core.runtime.cpu
            before = time.process_time()
            await client.post("/chaos", json={"kind": "cpu", "intensity": 1})
            assert burner.running

            async def burned() -> bool:
                # CPU time really goes up; polled because the machine may be busy.
                return time.process_time() - before > 0.3

            assert await _eventually(burned, timeout_s=20)
            # The event loop still answers while the burner runs.
            assert (await client.get("/users/u-8")).status_code == 200
            await client.delete("/chaos")
            assert not burner.running

    run(main())


def test_memory_fault_allocates_up_to_max_and_releases(users_app, serving) -> None:
    async def main() -> None:
        app = users_app()
        async with serving(app) as client:
            hog = app.state.core.runtime.memory
            await client.post("/chaos", json={"kind": "memory", "mb_per_s": 200, "max_mb": 24})

            async def full() -> bool:
                return hog.held_mb == 24

            assert await _eventually(full)
            await asyncio.sleep(0.2)
            assert hog.held_mb == 24  # never above max_mb
            await client.delete("/chaos")
            assert hog.held_mb == 0

    run(main())


def test_workers_directly() -> None:
    hog = MemoryHog()
    hog.grow_to(3.5)
    assert hog.held_mb == 3.5
    hog.release()
    assert hog.held_mb == 0
    burner = CpuBurner()
    burner.set_intensity(0.5)
    assert burner.running
    burner.set_intensity(0)
    assert not burner.running


def test_active_fault_gauge(users_app, serving) -> None:
    async def main() -> None:
        async with serving(users_app()) as client:
            await client.post("/chaos", json={"kind": "latency", "ms": 1})
            await client.post("/chaos", json={"kind": "latency", "ms": 2})
            text = (await client.get("/metrics")).text
            assert 'chaos_faults_active{kind="latency"} 2.0' in text
            assert 'chaos_faults_active{kind="errors"} 0.0' in text

    run(main())


def test_background_noise_settings(users_app, serving) -> None:
    import pytest
    from pydantic import ValidationError

    from services.users.config import UsersSettings

    defaults = UsersSettings()
    assert defaults.chaos_enabled is True
    assert defaults.failure_rate == 0.0  # error noise is opt-in (docs/services.md)
    assert 0 < defaults.latency_spike_rate <= 0.01
    assert defaults.latency_spike_ms <= 250
    for field, value in (
        ("failure_rate", 0.5),
        ("latency_spike_rate", 0.1),
        ("latency_spike_ms", 2000),
    ):
        with pytest.raises(ValidationError):
            UsersSettings.model_validate({field: value})

    async def main() -> None:
        # The maximum allowed noise: some errors, never anywhere near an outage.
        app = users_app(chaos_enabled=True, failure_rate=0.02, latency_spike_rate=0.0)
        async with serving(app) as client:
            codes = [(await client.get("/users/u-9")).status_code for _ in range(600)]
            errors = codes.count(500)
            assert 0 < errors < 40, errors
            assert set(codes) <= {200, 500}
        quiet = users_app(chaos_enabled=False, failure_rate=0.02, latency_spike_rate=0.02)
        async with serving(quiet) as client:
            codes = [(await client.get("/users/u-9")).status_code for _ in range(300)]
            assert set(codes) == {200}

    run(main())


def test_env_settings_are_read(monkeypatch) -> None:
    from services.orders.config import OrdersSettings

    monkeypatch.setenv("CHAOS_ENABLED", "false")
    monkeypatch.setenv("FAILURE_RATE", "0.01")
    monkeypatch.setenv("LATENCY_SPIKE_RATE", "0")
    monkeypatch.setenv("USERS_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("PORT", "9123")
    settings = OrdersSettings()
    assert settings.chaos_enabled is False
    assert settings.failure_rate == 0.01
    assert settings.latency_spike_rate == 0
    assert settings.port == 9123
    assert settings.users_url == "http://127.0.0.1:1"
    assert settings.service_name == "orders"
    assert isinstance(httpx.URL(settings.payments_url), httpx.URL)
