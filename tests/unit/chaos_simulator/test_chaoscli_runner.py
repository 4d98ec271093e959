"""Scenario preconditions against an in-memory platform (httpx.MockTransport): no sockets."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from chaos_simulator.client import PlatformClient
from chaos_simulator.loadgen import LoadPlan
from chaos_simulator.mix import select_mix
from chaos_simulator.phases import BaselinesLearned, Phase, run_phases
from chaos_simulator.render import Ui
from chaos_simulator.scenario import SCENARIOS, ScenarioAbort, ScenarioOptions
from chaos_simulator.scenarios import _check_platform, _wait_warm
from chaos_simulator.targets import Targets
from chaos_simulator.watch import PlatformWatch

TARGETS = Targets(anomaly_url="http://anomaly.test", policy_url="http://policy.test")


def platform(status: dict[str, Any], policies: list[dict[str, Any]], predict=None, active=()):
    def handler(request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        if host == "policy.test" and path == "/status":
            return httpx.Response(200, json=status)
        if host == "policy.test" and path == "/policies":
            return httpx.Response(200, json={"items": policies})
        if host == "policy.test" and path == "/actions":
            return httpx.Response(503, text="down")
        if host == "anomaly.test" and path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if host == "anomaly.test" and path == "/predict":
            return httpx.Response(200, json={"series": predict or []})
        if host == "anomaly.test" and path == "/anomalies":
            return httpx.Response(200, json={"items": list(active)})
        return httpx.Response(404)

    return handler


def run(handler, fn):
    async def main():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fn(PlatformClient(TARGETS, client))

    return asyncio.run(main())


RESTART = {"name": "orders_lat", "service": "orders", "action": "restart_container",
           "enabled": True, "cooldown_remaining_s": 0}  # fmt: skip


def check(handler, expect_dry_run=False):
    opts = ScenarioOptions(expect_dry_run=expect_dry_run)
    ui = Ui()
    return run(handler, lambda c: _check_platform(c, SCENARIOS["latency-restart"], opts, ui))


def test_paused_engine_aborts() -> None:
    with pytest.raises(ScenarioAbort, match="paused"):
        check(platform({"enabled": False, "dry_run": False}, [RESTART]))


def test_dry_run_engine_needs_the_flag() -> None:
    with pytest.raises(ScenarioAbort, match="--expect-dry-run"):
        check(platform({"enabled": True, "dry_run": True}, [RESTART]))
    check(platform({"enabled": True, "dry_run": True}, [RESTART]), expect_dry_run=True)
    with pytest.raises(ScenarioAbort, match="acts for real"):
        check(platform({"enabled": True, "dry_run": False}, [RESTART]), expect_dry_run=True)


def test_missing_or_cooling_policies_are_warned(capsys: pytest.CaptureFixture[str]) -> None:
    check(platform({"enabled": True, "dry_run": False}, []))
    assert "no enabled policy does restart_container on orders" in capsys.readouterr().err
    cooling = {**RESTART, "cooldown_remaining_s": 120.0}
    assert check(platform({"enabled": True, "dry_run": False}, [cooling])) == 120.0
    assert "cooling down for 120s" in capsys.readouterr().err
    assert check(platform({"enabled": True, "dry_run": False}, [RESTART])) == 0.0
    assert capsys.readouterr().err == ""


def test_only_policies_on_the_scenarios_signal_can_close_its_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A latency fault: a ready error-rate restart does not help while the latency one cools."""
    latency = {**RESTART, "condition": "latency > 0.5 and cpu < 0.3", "cooldown_remaining_s": 90.0}
    errors = {**RESTART, "name": "orders_err", "condition": "error_rate > 0.1"}
    assert check(platform({"enabled": True, "dry_run": False}, [latency, errors])) == 90.0
    assert "orders_lat cooling down for 90s" in capsys.readouterr().err
    assert check(platform({"enabled": True, "dry_run": False}, [errors])) == 0.0
    assert "no enabled policy does restart_container on orders on latency" in (
        capsys.readouterr().err
    )


def test_warm_up_waits_for_a_scored_series_without_open_anomaly() -> None:
    sc = SCENARIOS["latency-restart"]
    opts = ScenarioOptions(warmup_timeout_s=0.3, poll_s=0.05)
    warming = [{"service": "orders", "metric": "latency", "warming_up": True}]
    ready = [{"service": "orders", "metric": "latency", "warming_up": False}]
    status = {"enabled": True}

    def warm(handler):
        return run(handler, lambda c: _wait_warm(c, sc, opts, asyncio.Event()))

    with pytest.raises(ScenarioAbort, match="no orders/latency series"):
        warm(platform(status, [], predict=[]))
    with pytest.raises(ScenarioAbort, match="still warming up"):
        warm(platform(status, [], predict=warming))
    busy = [{"id": "a-1", "service": "orders", "metric": "latency", "status": "active"}]
    with pytest.raises(ScenarioAbort, match="anomaly a-1 already open"):
        warm(platform(status, [], predict=ready, active=busy))
    warm(platform(status, [], predict=ready))  # returns: ready to inject


def test_platform_watch_reports_a_failing_component_without_failing() -> None:
    active = [{"id": "a-2", "service": "orders", "metric": "cpu", "opened_at": 5.0}]
    handler = platform({"enabled": True}, [], active=active)

    async def poll(clients: PlatformClient) -> dict[str, Any]:
        watch = PlatformWatch(clients, ["orders"], since=0.0)
        await watch.poll_once()
        return watch.report()

    report = run(handler, poll)
    assert report["unreachable"] == ["policy engine"]  # /actions answers 503 here
    assert [a["id"] for a in report["anomalies"]] == ["a-2"]
    assert report["actions"] == []


def series(service: str, metric: str, warming: bool) -> dict[str, Any]:
    return {"service": service, "metric": metric, "warming_up": warming}


@pytest.mark.parametrize(
    ("predict", "done", "state"),
    [
        ([series("orders", "cpu", False), series("orders", "latency", True)], False, "warming up"),
        ([series("orders", "cpu", False), series("users", "cpu", True)], True, "learned"),
        ([series("users", "cpu", False)], False, "warming up"),  # no orders series yet
    ],
)
def test_baselines_learned_needs_every_series_of_the_service_scored(predict, done, state):
    learned = BaselinesLearned(("orders",))
    assert run(platform({}, [], predict=predict), learned) is done
    assert learned.state == state


def test_baselines_learned_does_not_wait_for_an_anomaly_service_that_is_down():
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down")

    learned = BaselinesLearned(("orders",))
    assert run(down, learned) is True
    assert learned.state == "anomaly service unreachable"
    assert learned.warning() is None


def test_baselines_learned_waits_for_every_service_and_says_which():
    learned = BaselinesLearned(("orders", "payments"))
    assert run(platform({}, [], predict=[series("orders", "cpu", False)]), learned) is False
    assert learned.warning() == (
        "the baselines of orders, payments were still warming up when the baseline phase "
        "ended: what followed may be learned as their normal"
    )
    both = [series("orders", "cpu", False), series("payments", "cpu", False)]
    assert run(platform({}, [], predict=both), learned) is True


def test_a_phase_with_a_condition_ends_once_it_holds_after_its_minimum():
    calls: list[float] = []

    async def third_time(clients: PlatformClient) -> bool:
        calls.append(time.monotonic())
        return len(calls) >= 3

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    plan = LoadPlan(duration_s=30.0, concurrency=2, rate=50.0)
    phase = Phase("baseline", plan, select_mix(None), until=third_time, min_s=0.4,
                  check_every_s=0.1)  # fmt: skip
    started = time.monotonic()
    summaries, total, elapsed = run(ok, lambda c: run_phases(c, [phase], Ui(), asyncio.Event()))
    # Not before min_s, then on the third check (~0.2 s later): far from the 30 s bound.
    assert calls[0] - started >= 0.4
    assert 0.5 <= elapsed < 2.0
    assert summaries["baseline"]["requests"] == total.summary(elapsed)["requests"] > 0
    assert phase.describe() == "baseline 0.4-30s"
