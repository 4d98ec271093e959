"""OUT, and silences/maintenance: the policy engine (real app) against a real Alertmanager.

- the `alert` action arrives in Alertmanager (its API v2 and its webhook receiver) with the
  labels service, severity, relia_kind, policy and the annotations; Alertmanager down -> the
  action records `failed` with the reason and the control loop keeps running;
- a silence created through Alertmanager's API stops a real restart (reason + silence id),
  expiring it lets the next one through; an absolute maintenance window likewise."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pe_support import (
    AUTH,
    Receiver,
    firing,
    opted_in_container,
    settled,
    start_engine,
    wait_for,
)

from tests.support.alertmanager import AlertmanagerServer, webhook_route

pytestmark = [pytest.mark.alertmanager]

ALERT_POLICY = """
policies:
  - name: orders_latency_page
    condition: "latency > 0.5 and severity >= warning"
    action: alert
    service: orders
    cooldown: 0s
    params: {message: "orders is slow"}
"""


def stamp(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {what}")


def post(engine: Any, body: dict[str, Any]) -> str:
    response = httpx.post(engine.url + "/alerts", json=body, headers=AUTH, timeout=10)
    response.raise_for_status()
    return str(response.json()["scheduled"][0]["id"])


def test_alert_action_reaches_alertmanager_and_a_down_one_is_recorded(tmp_path: Path) -> None:
    recorder = Receiver()
    am = AlertmanagerServer(tmp_path, webhook_route(recorder.url)).start()
    policies = tmp_path / "policies.yml"
    policies.write_text(ALERT_POLICY)
    engine = start_engine(
        tmp_path,
        policies,
        ALERTMANAGER_URL=am.url,
        ALERTMANAGER_BACKOFF_S="0.1",
        DASHBOARD_PUBLIC_URL="http://localhost:3000",
        ANOMALY_SERVICE_PUBLIC_URL="http://localhost:8080",
    )
    try:
        stamp("anomaly a-fp-out-1 (orders latency) posted to the policy engine")
        action_id = post(engine, firing("fp-out-1"))
        rec = wait_for(lambda: settled(engine, action_id), what="alert action")
        stamp(f"action {action_id}: {rec['outcome']} / delivery {rec['delivery']}: {rec['detail']}")
        assert (rec["outcome"], rec["delivery"], rec["target"]) == ("succeeded", "sent", am.url)
        found = wait_for(lambda: am.alerts(policy="orders_latency_page"), what="alert in AM")
        labels, notes = found[0]["labels"], found[0]["annotations"]
        stamp(f"GET /api/v2/alerts: {labels}")
        assert {k: labels[k] for k in ("service", "severity", "relia_kind", "policy")} == {
            "service": "orders",
            "severity": "warning",
            "relia_kind": "policy_alert",
            "policy": "orders_latency_page",
        }
        assert labels["alertname"] == "ReliaPolicyAlert"
        assert notes["summary"] == "orders is slow"
        assert notes["dashboard"] == "http://localhost:3000"
        assert notes["triage"] == "http://localhost:8080/anomalies/a-fp-out-1/triage"
        hooked = wait_for(lambda: recorder.bodies, what="webhook receiver")
        stamp(
            f"Alertmanager's webhook receiver got {hooked[0]['alerts'][0]['labels']['alertname']}"
        )
        assert hooked[0]["alerts"][0]["labels"]["policy"] == "orders_latency_page"

        am.stop()
        stamp("Alertmanager stopped")
        loop_before = httpx.get(engine.url + "/status").json()["last_evaluation_at"]
        down_id = post(engine, firing("fp-out-2"))
        down = wait_for(lambda: settled(engine, down_id), what="failed alert action")
        stamp(f"action {down_id}: {down['outcome']} / {down['reason']}: {down['error']}")
        assert (down["outcome"], down["delivery"]) == ("failed", "failed")
        assert down["reason"] == "alertmanager_unavailable"
        assert "ConnectError" in down["error"]
        assert "3 attempt" in down["detail"]
        status = wait_for(
            lambda: (s := httpx.get(engine.url + "/status").json())["alertmanager"]["error"] and s,
            what="status reports Alertmanager down",
        )
        assert status["alertmanager"]["reachable"] is False
        assert status["last_evaluation_at"] > loop_before  # the control loop kept running
    finally:
        am.stop()
        engine.stop()
        recorder.close()


@pytest.fixture
def container() -> Iterator[tuple[str, Any]]:
    project = f"relia-pe-sil-{uuid.uuid4().hex[:8]}"
    created = opted_in_container(project)
    try:
        yield project, created
    finally:
        created.remove(force=True)


RESTART_POLICY = """
settings: {grace_period: 0}
policies:
  - {name: svc_latency_restart, condition: "latency > 0.5 and severity >= warning",
     action: restart_container, service: svc, cooldown: 0s, params: {stop_timeout: 2s}}
"""


def started_at(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


@pytest.mark.docker
def test_silence_and_maintenance_stop_a_real_restart(
    tmp_path: Path, container: tuple[str, Any]
) -> None:
    project, target = container
    am = AlertmanagerServer(tmp_path, webhook_route("http://127.0.0.1:9/unused")).start()
    policies = tmp_path / "policies.yml"
    policies.write_text(RESTART_POLICY)
    engine = start_engine(
        tmp_path, policies, COMPOSE_PROJECT=project, ALERTMANAGER_URL=am.url,
        SILENCES_REFRESH_S="0.5",
    )  # fmt: skip
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"], what="docker"
        )
        silence_id = am.silence({"service": "svc"}, comment="planned failover")
        stamp(f"silence {silence_id} created in Alertmanager (service=svc)")
        wait_for(
            lambda: httpx.get(engine.url + "/silences").json()["silences"], what="engine sees it"
        )
        before = started_at(target)
        action_id = post(engine, firing("fp-sil-1", "svc"))
        skipped = wait_for(lambda: settled(engine, action_id), what="silenced record")
        stamp(f"audit record: {skipped}")
        assert (skipped["outcome"], skipped["reason"]) == ("skipped", "silenced")
        assert silence_id in skipped["detail"]
        assert "planned failover" in skipped["detail"]
        assert started_at(target) == before

        am.expire(silence_id)
        stamp(f"silence {silence_id} expired")
        wait_for(
            lambda: not httpx.get(engine.url + "/silences").json()["silences"], what="expiry seen"
        )
        acted_id = post(engine, firing("fp-sil-2", "svc"))
        acted = wait_for(lambda: settled(engine, acted_id), timeout_s=60, what="restart")
        assert acted["outcome"] == "succeeded", acted
        assert started_at(target) != before

        # an absolute maintenance window over now, added by a live edit of the file
        policies.write_text(
            RESTART_POLICY
            + "maintenance:\n  - {name: db-upgrade, services: [svc],"
            + " start: '2020-01-01T00:00:00Z', end: '2099-01-01T00:00:00Z'}\n"
        )
        wait_for(
            lambda: httpx.get(engine.url + "/maintenance").json()["windows"], what="window loaded"
        )
        windows = httpx.get(engine.url + "/maintenance").json()["windows"]
        assert windows[0]["name"] == "db-upgrade"
        assert windows[0]["active"] is True
        between = started_at(target)
        maint_id = post(engine, firing("fp-sil-3", "svc"))
        maint = wait_for(lambda: settled(engine, maint_id), what="maintenance record")
        assert (maint["outcome"], maint["reason"]) == ("skipped", "maintenance")
        assert "db-upgrade" in maint["detail"]
        assert started_at(target) == between
    finally:
        am.stop()
        engine.stop()
