"""IN and OUT on one incident: a real Prometheus alerting rule -> a real Alertmanager -> the
policy engine (real app, real Docker restart) -> its `alert` action back into the same
Alertmanager. One action per policy per incident despite group re-sends, repeat_interval and a
restart of Alertmanager; the resolve never acts; Relia's own alert, routed back to the engine by
this catch-all config, is ignored (loop guard)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pe_support import (
    TOKEN,
    GaugeServer,
    Receiver,
    actions,
    opted_in_container,
    restarts_between,
    start_engine,
    wait_for,
)

from tests.support.alertmanager import AlertmanagerServer, webhook_route
from tests.support.procs import free_port
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = [pytest.mark.docker, pytest.mark.prometheus, pytest.mark.alertmanager]

RULES = {
    "groups": [
        {
            "name": "sre",
            "interval": "1s",
            "rules": [
                {
                    "alert": "HighErrorRate",
                    "expr": "demo_error_ratio > 0.5",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "errors above 50 %"},
                }
            ],
        }
    ]
}


def stamp(what: str, t0: float) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z +{time.monotonic() - t0:5.1f}s] {what}")


@pytest.fixture
def container() -> Iterator[tuple[str, Any]]:
    project = f"relia-pe-am-{uuid.uuid4().hex[:8]}"
    created = opted_in_container(project)
    try:
        yield project, created
    finally:
        created.remove(force=True)


def test_prometheus_rule_through_alertmanager_acts_once_per_incident(
    tmp_path: Path, container: tuple[str, Any]
) -> None:
    project, target = container
    t0 = time.monotonic()
    gauge = GaugeServer("demo_error_ratio", 0.0)
    recorder = Receiver()  # sees every notification Alertmanager sends, next to the engine
    policies = tmp_path / "policies.yml"
    policies.write_text("""
settings: {grace_period: 0}
policies:
  - name: demo_errors_restart
    alert: {alertname: HighErrorRate, labels: {job: demo}}
    action: restart_container
    service: svc
    cooldown: 1s          # a short cooldown: only the dedupe key stands between re-sends and acts
    params: {stop_timeout: 2s}
  - name: demo_errors_page
    alert: {alertname: HighErrorRate}
    action: alert
    service: svc
    cooldown: 1s
    params: {message: "demo error ratio above 50 %, restarting svc"}
""")
    am_dir = tmp_path / "am"
    am_dir.mkdir()
    am_port = free_port()
    engine = start_engine(
        tmp_path, policies, COMPOSE_PROJECT=project,
        ALERTMANAGER_URL=f"http://127.0.0.1:{am_port}",
    )  # fmt: skip
    am = AlertmanagerServer(
        am_dir,
        webhook_route(engine.url + "/alerts", recorder.url, token=TOKEN, repeat_interval="3s"),
        port=am_port,
    ).start()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES))
    prom = PrometheusServer(
        tmp_path,
        [ScrapeTarget("demo", gauge.address, {"service": "svc"})],
        extra_config={
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am.port}"]}]}]
            },
        },
        extra_args=["--rules.alert.resend-delay=1s"],
    ).start()
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["docker"]["reachable"], what="docker"
        )
        started = time.time()
        gauge.value = 0.9
        stamp("gauge demo_error_ratio=0.9 (rule HighErrorRate will fire)", t0)

        def engine_records() -> list[dict[str, Any]]:
            return list(actions(engine, policy="demo_errors_restart")["items"])

        first = wait_for(lambda: engine_records(), timeout_s=60, what="first action")
        stamp(f"policy engine recorded {first[0]['id']} ({first[0]['outcome']})", t0)
        rec = wait_for(
            lambda: (r := engine_records()) and r[0]["outcome"] != "pending" and r[0],
            timeout_s=60,
            what="restart settled",
        )
        assert rec["outcome"] == "succeeded", rec
        assert rec["trigger"]["alertname"] == "HighErrorRate"
        assert rec["trigger"]["labels"]["job"] == "demo"
        page = wait_for(
            lambda: (
                (r := actions(engine, policy="demo_errors_page")["items"])
                and r[0]["outcome"] != "pending"
                and r[0]
            ),
            what="alert action settled",
        )
        stamp(f"policy engine posted {page['id']} to Alertmanager: {page['detail']}", t0)
        assert (page["outcome"], page["delivery"]) == ("succeeded", "sent")
        out = wait_for(lambda: am.alerts(policy="demo_errors_page"), what="Relia's alert in AM")
        stamp(f"GET /api/v2/alerts shows {out[0]['labels']}", t0)
        assert out[0]["labels"]["relia_kind"] == "policy_alert"
        assert out[0]["labels"]["service"] == "svc"

        def firing_seen() -> list[dict[str, Any]]:
            return [
                b
                for b in recorder.bodies
                if b["status"] == "firing" and b["commonLabels"].get("alertname") == "HighErrorRate"
            ]

        # repeat_interval 3 s: Alertmanager sends the same incident again, at least twice more
        wait_for(lambda: len(firing_seen()) >= 3, timeout_s=30, what="re-sends")
        stamp(f"Alertmanager delivered the firing group {len(firing_seen())} times", t0)
        before_restart = len(firing_seen())
        am.restart()  # alerts are not persisted: Prometheus re-sends them (resend-delay 1 s)
        stamp("Alertmanager restarted", t0)
        wait_for(
            lambda: len(firing_seen()) > before_restart, timeout_s=30, what="post-restart send"
        )
        stamp("Alertmanager delivered the incident again after its restart", t0)
        assert len(engine_records()) == 1
        gauge.value = 0.0
        stamp("gauge demo_error_ratio=0 (rule resolves)", t0)
        wait_for(
            lambda: any(b["status"] == "resolved" for b in recorder.bodies),
            timeout_s=60,
            what="resolved notification",
        )
        stamp("Alertmanager delivered the resolve", t0)
        time.sleep(2.0)  # the engine got the same resolve: give it time to (not) act
        records = engine_records()
        assert len(records) == 1, records  # one incident, one action: no re-send, no resolve acted
        # Relia's own alert came back through the catch-all route and was ignored: two records
        assert any(b["commonLabels"].get("relia_kind") for b in recorder.bodies)
        assert actions(engine)["total"] == 2
        assert restarts_between(target, started - 1, time.time()) == 1
        starts = {
            a["startsAt"]
            for b in recorder.bodies
            for a in b["alerts"]
            if a["labels"]["alertname"] == "HighErrorRate"
        }
        assert len(starts) == 1  # every delivery was the same incident (same startsAt)
        iso = lambda ts: time.strftime("%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"  # noqa: E731
        print(
            f"PATH: incident startsAt {starts.pop()} (Prometheus) -> engine received"
            f" {iso(rec['trigger']['received_at'])} -> restart {rec['target']} done"
            f" {iso(rec['finished_at'])} ({rec['duration_ms']:.0f} ms) -> ReliaPolicyAlert"
            f" startsAt {out[0]['startsAt']} in Alertmanager ({page['id']})"
        )
    finally:
        prom.stop()
        am.stop()
        engine.stop()
        recorder.close()
        gauge.close()
