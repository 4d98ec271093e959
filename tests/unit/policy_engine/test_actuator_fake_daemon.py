"""DockerActuator against an in-memory fake daemon: filtering inside the actuator, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import requests

from policy_engine.actuator import DockerActuator, RestartParams, ScaleParams

SELF_ID = "f" * 64


def doc(
    cid: str, name: str, project: str, service: str, opt_in: bool, number: int = 1
) -> dict[str, Any]:
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(number),
        "com.docker.compose.oneoff": "False",
    }
    if opt_in:
        labels["relia.remediation"] = "enabled"
    return {
        "Id": cid,
        "Name": "/" + name,
        "Created": "2026-11-21T19:00:00.0Z",
        "Config": {"Labels": labels},
        "State": {"Status": "running", "StartedAt": "2026-11-21T19:00:01.0Z"},
    }


class FakeAPI:
    """Ignores label filters on purpose: the actuator must filter by itself."""

    def __init__(
        self,
        docs: list[dict[str, Any]],
        gate: threading.Event | None = None,
        error: Exception | None = None,
    ) -> None:
        self.docs = {d["Id"]: d for d in docs}
        self.gate = gate
        self.error = error
        self.restarted: list[str] = []
        self.vanish_on_restart: set[str] = set()

    def _io(self) -> None:
        if self.error is not None:
            raise self.error
        if self.gate is not None:
            self.gate.wait(10)  # a stalled daemon (released by the test)

    def containers(self, all: bool, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self._io()
        return [{"Id": cid} for cid in self.docs]

    def inspect_container(self, ref: str) -> dict[str, Any]:
        self._io()
        for d in self.docs.values():
            if ref in (d["Id"], d["Name"].lstrip("/")):
                return d
        import docker.errors

        raise docker.errors.NotFound(f"No such container: {ref}")

    def restart(self, ref: str, timeout: int) -> None:
        self._io()
        if ref in self.vanish_on_restart:
            import docker.errors

            del self.docs[ref]
            raise docker.errors.NotFound(f"No such container: {ref}")
        self.restarted.append(ref)
        self.docs[ref]["State"]["StartedAt"] = "2026-11-21T19:30:00.0Z"

    def stop(self, ref: str, timeout: int) -> None:
        raise AssertionError("must not be called in these tests")

    remove_container = stop


class FakeClient:
    def __init__(self, api: FakeAPI) -> None:
        self.api = api

    def ping(self) -> bool:
        self.api._io()
        return True

    def close(self) -> None:
        pass


DOCS = [
    doc("a" * 64, "relia-orders-1", "relia", "orders", True, 1),
    doc("b" * 64, "relia-orders-2", "relia", "orders", False, 2),  # opt-in missing
    doc("c" * 64, "other-orders-1", "other", "orders", True, 1),  # other project
    doc(SELF_ID, "relia-orders-9", "relia", "orders", True, 9),  # the engine itself
]


def actuator(api: FakeAPI, **kwargs: Any) -> DockerActuator:
    return DockerActuator(
        "relia",
        client_factory=lambda: FakeClient(api),
        self_ids=[SELF_ID],
        hostname=None,
        poll_interval_s=0.01,
        **kwargs,
    )


def test_only_eligible_containers_are_listed_and_restarted() -> None:
    api = FakeAPI([dict(d, State=dict(d["State"])) for d in DOCS])
    act = actuator(api)

    async def run() -> None:
        targets = await act.list_targets("orders")
        assert [t.name for t in targets] == ["relia-orders-1"]
        outcome = await act.restart(RestartParams(service="orders", stop_timeout_s=1))
        assert outcome.status == "succeeded", outcome
        assert outcome.targets == ["relia-orders-1"]
        for name, why in [
            ("relia-orders-2", "opt-in"),
            ("other-orders-1", "compose project"),
            ("relia-orders-9", "own container"),
            ("nope", "no container named"),
        ]:
            refused = await act.restart(RestartParams(service="orders", container=name))
            assert refused.status == "failed"
            assert refused.targets == []
            assert refused.error is not None, refused.error
            assert why in refused.error, refused.error

    try:
        asyncio.run(run())
    finally:
        act.close()
    assert api.restarted == ["a" * 64]


def test_stalled_daemon_fails_fast_and_never_blocks_the_loop() -> None:
    gate = threading.Event()
    api = FakeAPI(DOCS, gate=gate)
    act = actuator(api, call_timeout_s=0.5)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def run() -> None:
        task = asyncio.create_task(ticker())
        t0 = time.monotonic()
        restart, scale, ping, listed = await asyncio.gather(
            act.restart(RestartParams(service="orders")),
            act.scale(ScaleParams(service="orders", direction="up")),
            act.ping(),
            act.list_targets("orders"),
        )
        elapsed = time.monotonic() - t0
        task.cancel()
        assert restart.status == "failed"
        assert "did not answer within" in str(restart.error)
        assert scale.status == "failed"
        assert "did not answer within" in str(scale.error)
        assert ping is False
        assert listed == []
        assert elapsed < 5.0, elapsed
        assert ticks > 20, "the event loop stalled while Docker hung"

    try:
        asyncio.run(run())
    finally:
        gate.set()
        act.close()


def test_dead_daemon_is_a_failed_outcome_with_a_clear_error() -> None:
    api = FakeAPI(DOCS, error=requests.exceptions.ConnectionError("Connection refused"))
    act = actuator(api)
    try:
        outcome = asyncio.run(act.scale(ScaleParams(service="orders", direction="down")))
        assert asyncio.run(act.ping()) is False
    finally:
        act.close()
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "Docker daemon unreachable" in outcome.error
    assert "Connection refused" in outcome.error
    assert outcome.replicas_before is None
    assert outcome.replicas_after is None


def fresh_docs() -> list[dict[str, Any]]:
    return [dict(d, State=dict(d["State"])) for d in DOCS]


def test_container_removed_mid_action_is_a_clear_failure() -> None:
    api = FakeAPI(fresh_docs())
    api.vanish_on_restart.add("a" * 64)
    act = actuator(api)
    try:
        outcome = asyncio.run(act.restart(RestartParams(service="orders")))
        assert act.last_error is not None
        assert "no longer exists" in act.last_error
        assert asyncio.run(act.ping()) is True
        assert act.last_error is None
    finally:
        act.close()
    assert outcome.status == "failed"
    assert outcome.targets == []
    assert "relia-orders-1" in str(outcome.error)
    assert "no longer exists" in str(outcome.error)


def test_rolling_restart_skips_paused_replicas_and_says_so() -> None:
    docs = [*fresh_docs(), doc("d" * 64, "relia-orders-3", "relia", "orders", True, 3)]
    docs[-1]["State"]["Status"] = "paused"
    api = FakeAPI(docs)
    act = actuator(api)
    try:
        outcome = asyncio.run(act.restart(RestartParams(service="orders")))
        paused_only = FakeAPI([docs[-1]])
        act_paused = actuator(paused_only)
        refused = asyncio.run(act_paused.restart(RestartParams(service="orders")))
        act_paused.close()
    finally:
        act.close()
    assert outcome.status == "succeeded"
    assert outcome.targets == ["relia-orders-1"]
    assert "skipped relia-orders-3 (paused)" in outcome.detail
    assert refused.status == "failed"
    assert "relia-orders-3 is paused" in str(refused.error)
    assert api.restarted == ["a" * 64]
    assert paused_only.restarted == []
