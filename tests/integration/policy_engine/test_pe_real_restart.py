"""The whole decision path on a real Docker engine: alert in -> guarded restart of an opted-in
container (really restarted), an opted-out sibling untouched, verification on resolve."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from pe_support import AUTH, firing, restarts_between, start_engine, wait_for

pytestmark = pytest.mark.docker
IMAGE = "python:3.11-slim-bookworm"
SLEEPER = (
    "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "while True: time.sleep(1)\n"
)


@pytest.fixture
def project() -> Iterator[tuple[str, Any, Any]]:
    client = docker.from_env(timeout=30)
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{IMAGE} is missing (scripts/offline-images.sh builds it)", pytrace=False)
    name = f"relia-pe-itest-{uuid.uuid4().hex[:8]}"
    created = []
    try:
        for number, opted_in in ((1, True), (2, False)):
            labels = {
                "com.docker.compose.project": name,
                "com.docker.compose.service": "svc",
                "com.docker.compose.container-number": str(number),
                "com.docker.compose.oneoff": "False",
            }
            if opted_in:
                labels["relia.remediation"] = "enabled"
            created.append(
                client.containers.run(
                    IMAGE,
                    ["python", "-c", SLEEPER],
                    detach=True,
                    init=True,
                    name=f"{name}-svc-{number}",
                    labels=labels,
                )
            )
        yield name, created[0], created[1]
    finally:
        for container in created:
            container.remove(force=True)


def started_at(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_alert_restarts_only_the_opted_in_container(
    tmp_path: Path, project: tuple[str, Any, Any]
) -> None:
    name, opted_in, opted_out = project
    policies = tmp_path / "policies.yml"
    policies.write_text("""
settings: {grace_period: 0, verification_window: 10m}
policies:
  - {name: svc_restart, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: svc, cooldown: 300, params: {stop_timeout: 5s}}
""")
    before_in, before_out = started_at(opted_in), started_at(opted_out)
    engine = start_engine(tmp_path, policies, COMPOSE_PROJECT=name)
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"],
            what="docker reachable",
        )
        r = httpx.post(engine.url + "/alerts", json=firing("fp-real", "svc"), headers=AUTH)
        action_id = r.json()["scheduled"][0]["id"]

        def record() -> dict[str, Any] | None:
            got = httpx.get(engine.url + f"/actions/{action_id}")
            settled = got.status_code == 200 and got.json()["outcome"] != "pending"
            return got.json() if settled else None  # the record is `pending` while it runs

        rec = wait_for(record, timeout_s=90, what="action record")
        assert rec["outcome"] == "succeeded", rec
        assert rec["target"] == f"{name}-svc-1"
        assert rec["verification"] == "pending"
        assert started_at(opted_in) != before_in  # really restarted
        assert started_at(opted_out) == before_out  # no opt-in label: untouched
        # a second anomaly inside the cooldown is skipped, Docker is not called again
        r2 = httpx.post(engine.url + "/alerts", json=firing("fp-real-2", "svc"), headers=AUTH)
        rec2 = wait_for(
            lambda: (
                (
                    g := httpx.get(engine.url + f"/actions/{r2.json()['scheduled'][0]['id']}")
                ).status_code
                == 200
                and g.json()
            ),
            what="skip record",
        )
        assert rec2["outcome"] == "skipped"
        assert rec2["reason"] == "cooldown"
        # the anomaly resolves -> verification succeeded
        httpx.post(
            engine.url + "/alerts", json=firing("fp-real", "svc", status="resolved"), headers=AUTH
        )
        done = wait_for(
            lambda: (x := record()) and x["verification"] == "succeeded" and x, what="verified"
        )
        assert done["verified_at"] >= done["finished_at"]
    finally:
        engine.stop()
    assert os.path.exists(tmp_path / "state" / "policy-engine.sqlite3")


def test_two_policies_one_incident_restart_the_target_once(
    tmp_path: Path, project: tuple[str, Any, Any]
) -> None:
    name, opted_in, _ = project
    policies = tmp_path / "policies.yml"
    policies.write_text("""
settings: {grace_period: 0}
policies:
  - {name: svc_latency, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: svc, cooldown: 300, params: {stop_timeout: 5s}}
  - {name: svc_errors, condition: "error_rate > 0.1 and severity >= warning",
     action: restart_container, service: svc, cooldown: 300, params: {stop_timeout: 5s}}
""")
    engine = start_engine(tmp_path, policies, COMPOSE_PROJECT=name)
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"],
            what="docker reachable",
        )
        t0 = time.time()
        # one incident, seen on two signals: the latency alert, and the error-rate alert 1 s on
        latency = httpx.post(engine.url + "/alerts", json=firing("fp-l", "svc"), headers=AUTH)
        time.sleep(1.0)
        errors = firing("fp-e", "svc", metric="error_rate", value="0.4")
        second = httpx.post(engine.url + "/alerts", json=errors, headers=AUTH)
        ids = [r.json()["scheduled"][0]["id"] for r in (latency, second)]

        def settled() -> list[dict[str, Any]] | None:
            got = [httpx.get(engine.url + f"/actions/{i}").json() for i in ids]
            return got if all(g["outcome"] != "pending" for g in got) else None

        first, skip = wait_for(settled, timeout_s=60, what="both records settled")
        assert first["outcome"] == "succeeded", first
        assert first["policy"] == "svc_latency", first
        assert skip["outcome"] == "skipped", skip
        assert skip["reason"] == "target_cooldown", skip
        assert "'svc_latency'" in skip["detail"]
        assert restarts_between(opted_in, t0, time.time()) == 1
    finally:
        engine.stop()
