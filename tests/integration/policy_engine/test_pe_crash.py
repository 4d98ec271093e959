"""Exactly once across a crash, on the real Docker engine: the engine is killed with SIGKILL
while a restart is in flight at the daemon, then started again on the same state. Exactly one
restart happened (counted by the container's StartedAt), the record written before the restart
is settled once from Docker, and neither a redelivered webhook nor the still-open anomaly acts
again. Docker calls go through a unix-socket relay that prints each request it passed on, so the
kill lands while the restart call is at the daemon."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from pe_support import (
    AUTH,
    PredictServer,
    Relay,
    actions,
    firing,
    restarts_between,
    start_engine,
    wait_for,
)

pytestmark = pytest.mark.docker
IMAGE = "python:3.11-slim-bookworm"
# PID 1 without a SIGTERM handler ignores SIGTERM: a restart waits out its whole stop timeout,
# which keeps the call in flight at the daemon long enough to kill the engine during it.
STUBBORN = "import time\nwhile True: time.sleep(1)\n"
STOP_TIMEOUT_S = 4


@pytest.fixture
def target() -> Iterator[tuple[str, Any]]:
    client = docker.from_env(timeout=30)
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{IMAGE} is missing (scripts/offline-images.sh builds it)", pytrace=False)
    name = f"relia-pe-crash-{uuid.uuid4().hex[:8]}"
    labels = {
        "com.docker.compose.project": name,
        "com.docker.compose.service": "svc",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
        "relia.remediation": "enabled",
    }
    container = client.containers.run(
        IMAGE, ["python", "-c", STUBBORN], detach=True, name=f"{name}-svc-1", labels=labels
    )
    try:
        yield name, container
    finally:
        container.remove(force=True)


def started_at(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def open_anomaly(fingerprint: str) -> dict[str, Any]:
    """/predict while the alert's anomaly is still open (what made the old engine act again)."""
    series = {
        "service": "svc",
        "metric": "latency",
        "labels": {"service": "svc"},
        "value": 0.9,
        "severity": "warning",
        "kind": "deviation",
        "anomaly_id": f"a-{fingerprint}",
        "ts": time.time(),
    }
    return {"generated_at": time.time(), "cycle": 1, "ready": True, "series": [series]}


def rows(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state / "policy-engine.sqlite3") as db:
        return [(r[0], r[1]) for r in db.execute("SELECT id, outcome FROM actions")]


def test_kill_9_mid_restart_restarts_once_and_settles_the_record(
    tmp_path: Path, target: tuple[str, Any]
) -> None:
    name, container = target
    policies = tmp_path / "policies.yml"
    policies.write_text(f"""
settings: {{grace_period: 0, verification_window: 10m}}
policies:
  - {{name: svc_restart, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: svc, cooldown: 300,
     params: {{stop_timeout: {STOP_TIMEOUT_S}s}}}}
""")
    sock_dir = tempfile.mkdtemp(prefix="relia-crash-")  # short: unix socket paths ~100 chars
    relay = Relay(os.path.join(sock_dir, "docker.sock"), "forward")
    predict = PredictServer()  # no open anomaly yet: only the alert acts
    env = {
        "COMPOSE_PROJECT": name,
        "DOCKER_HOST": f"unix://{relay.path}",
        "ANOMALY_SERVICE_URL": predict.url,
    }
    engine = start_engine(tmp_path, policies, **env)
    restarted = None
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"],
            what="docker reachable",
        )
        before = started_at(container)
        t0 = time.time()
        hook = firing("fp-crash", "svc")
        r = httpx.post(engine.url + "/alerts", json=hook, headers=AUTH, timeout=10)
        (scheduled,) = r.json()["scheduled"]
        relay.wait_for_request("/restart", timeout_s=30)
        engine.stop(signal.SIGKILL)  # the restart is at the daemon: kill -9 the engine now
        predict.body = open_anomaly("fp-crash")
        # the record was committed before Docker was called, and nobody settled it
        assert rows(tmp_path / "state") == [(scheduled["id"], "pending")]
        # the daemon finishes the restart it was given (stop timeout, then start)
        restarted = wait_for(
            lambda: (s := started_at(container)) != before and s,
            timeout_s=STOP_TIMEOUT_S + 30,
            what="the in-flight restart to complete at the daemon",
        )

        engine = start_engine(tmp_path, policies, port=engine.port, **env)
        rec = httpx.get(engine.url + f"/actions/{scheduled['id']}").json()
        assert rec["outcome"] == "succeeded", rec  # settled at start-up, before serving
        assert "settled at start-up" in rec["detail"]
        assert rec["verification"] == "pending"
        # the same webhook again: a duplicate, nothing scheduled
        again = httpx.post(engine.url + "/alerts", json=hook, headers=AUTH, timeout=10).json()
        assert again["duplicates"] == 1
        assert again["scheduled"] == []
        # the anomaly is still open: cycles re-check it, and must not act on it again
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["anomaly_service"]["fresh"],
            what="the restarted engine sees the open anomaly",
        )
        time.sleep(3.0)  # ten cycles at CHECK_INTERVAL 0.3 s
        assert started_at(container) == restarted  # exactly one restart in all
        assert restarts_between(container, t0, time.time()) == 1  # the daemon says the same
        items = actions(engine)["items"]
        assert [(i["id"], i["outcome"]) for i in items] == [(scheduled["id"], "succeeded")]
    finally:
        engine.stop()
        relay.kill()
        predict.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_sigterm_mid_restart_waits_for_it_and_records_it(
    tmp_path: Path, target: tuple[str, Any]
) -> None:
    name, container = target
    policies = tmp_path / "policies.yml"
    policies.write_text(f"""
settings: {{grace_period: 0}}
policies:
  - {{name: svc_restart, condition: "latency > 0.5", action: restart_container, service: svc,
     params: {{stop_timeout: {STOP_TIMEOUT_S}s}}}}
""")
    sock_dir = tempfile.mkdtemp(prefix="relia-crash-")
    relay = Relay(os.path.join(sock_dir, "docker.sock"), "forward")
    env = {"COMPOSE_PROJECT": name, "DOCKER_HOST": f"unix://{relay.path}"}
    engine = start_engine(tmp_path, policies, **env)
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"],
            what="docker reachable",
        )
        before = started_at(container)
        r = httpx.post(engine.url + "/alerts", json=firing("fp-term", "svc"), headers=AUTH)
        (scheduled,) = r.json()["scheduled"]
        relay.wait_for_request("/restart", timeout_s=30)
        t0 = time.monotonic()
        # uvicorn re-raises the signal once shut down: -15 is a clean exit here
        assert engine.stop(signal.SIGTERM, timeout_s=STOP_TIMEOUT_S + 30) in (0, -signal.SIGTERM)
        assert "stopped cleanly" in engine.log_text()
        # the engine waited for the restart (it ignores SIGTERM: the whole stop timeout)
        assert time.monotonic() - t0 >= STOP_TIMEOUT_S - 1.5
        assert rows(tmp_path / "state") == [(scheduled["id"], "succeeded")]
        assert started_at(container) != before
    finally:
        engine.stop()
        relay.kill()
        shutil.rmtree(sock_dir, ignore_errors=True)
