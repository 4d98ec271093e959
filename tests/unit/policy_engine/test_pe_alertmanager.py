"""Alertmanager in and out, in memory: external alerts matched by `alert:` policies, silences and
maintenance windows as guards, the `alert` action posted to Alertmanager, the client's retries."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pe_fakes import FakeClock, make_engine, series
from test_pe_engine import deliver, restarts

from policy_engine.alertmanager import AlertmanagerClient, Delivery
from policy_engine.am_payload import Links, alert_of_record, build_alert
from policy_engine.engine import Engine
from policy_engine.models import ActionRecord, Trigger
from policy_engine.policies import load_policies
from policy_engine.silences import Matcher, Silence

EXTERNAL = """
settings: {grace_period: 0s}
policies:
  - name: orders_errors_restart
    alert: {alertname: HighErrorRate, labels: {job: orders}}
    action: restart_container
    service: orders
    cooldown: 300
  - name: page_on_disk
    alert: {alertname: DiskFull}
    action: alert
    service: users
    params: {message: "disk full on users"}
"""


class FakeAM:
    """Stands in for AlertmanagerClient: silences the test sets, alerts it records."""

    base_url = "http://am.test:9093"

    def __init__(self) -> None:
        self.silence_list: list[Silence] = []
        self.posted: list[dict[str, Any]] = []
        self.down = False

    async def silences(self) -> list[Silence]:
        if self.down:
            raise httpx.ConnectError("connection refused")
        return list(self.silence_list)

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> Delivery:
        if self.down:
            return Delivery(False, 3, "not delivered", error="ConnectError: connection refused")
        self.posted.extend(alerts)
        return Delivery(True, 1, "sent to Alertmanager: HTTP 200 (attempt 1)")

    async def aclose(self) -> None:
        return None


def engine_with(policies: str, clock: FakeClock, am: FakeAM | None, **overrides: Any) -> Engine:
    return make_engine(policies, clock=clock, alertmanager=am, **overrides)


def hook(
    status: str = "firing", starts: str = "2026-11-30T12:00:00Z", **labels: str
) -> dict[str, Any]:
    labels = {"alertname": "HighErrorRate", "job": "orders", "severity": "critical", **labels}
    return {
        "version": "4",
        "status": status,
        "receiver": "relia",
        "alerts": [
            {"status": status, "labels": labels, "startsAt": starts, "fingerprint": "fa1b2c3"}
        ],
    }


def test_external_alert_acts_once_per_incident_never_on_resolve() -> None:
    async def go() -> None:
        clock = FakeClock()
        engine = engine_with(EXTERNAL, clock, None)
        first = await deliver(engine, hook())
        assert [s["policy"] for s in first["scheduled"]] == ["orders_errors_restart"]
        assert restarts(engine) == 1
        record = engine.store.get_action(first["scheduled"][0]["id"])
        assert record is not None
        assert record.trigger.labels["job"] == "orders"
        # repeat_interval re-send and a re-send after an Alertmanager restart (same startsAt)
        clock.advance(60)
        assert (await deliver(engine, hook()))["duplicates"] == 1
        clock.advance(60)
        assert (await deliver(engine, hook()))["duplicates"] == 1
        # the resolve never acts, twice delivered or not
        for _ in range(2):
            clock.advance(5)
            resolved = await deliver(engine, hook("resolved"))
            assert resolved["scheduled"] == []
        assert restarts(engine) == 1
        # another job's alert, or another alertname: no policy
        clock.advance(400)
        other = await deliver(engine, hook(starts="2026-11-30T12:10:00Z", job="users"))
        assert other["scheduled"] == []
        assert other["ignored"] == 1
        assert restarts(engine) == 1

    asyncio.run(go())


def test_relias_own_alerts_routed_back_are_ignored() -> None:
    async def go() -> None:
        engine = engine_with(EXTERNAL, FakeClock(), None)
        summary = await deliver(engine, hook(relia_kind="policy_alert"))
        assert summary["scheduled"] == []
        assert "posted by Relia" in summary["notes"][0]

    asyncio.run(go())


def test_silence_stops_a_restart_and_expiry_lets_the_next_through() -> None:
    async def go() -> None:
        clock = FakeClock()
        am = FakeAM()
        engine = engine_with(EXTERNAL, clock, am)
        am.silence_list = [
            Silence(
                "sil-1",
                (Matcher("service", "orders"), Matcher("alertname", "High.*", is_regex=True)),
                clock.now - 10,
                clock.now + 300,
                created_by="sre",
                comment="deploy",
            )
        ]
        await engine.am.refresh_silences()
        first = await deliver(engine, hook())
        record = engine.store.get_action(first["scheduled"][0]["id"])
        assert record is not None
        assert (record.outcome, record.reason) == ("skipped", "silenced")
        assert "sil-1" in (record.detail or "")
        assert "deploy" in (record.detail or "")
        assert restarts(engine) == 0
        clock.advance(301)  # the silence ended: the next firing (a new incident) acts
        second = await deliver(engine, hook(starts="2026-11-30T12:06:00Z"))
        record = engine.store.get_action(second["scheduled"][0]["id"])
        assert record is not None
        assert record.outcome == "succeeded"
        assert restarts(engine) == 1

    asyncio.run(go())


def test_alertmanager_down_is_reported_and_actions_proceed() -> None:
    async def go() -> None:
        clock = FakeClock()
        am = FakeAM()
        engine = engine_with(EXTERNAL, clock, am, silences_max_age_s=30.0)
        am.silence_list = [Silence("sil-2", (Matcher("service", "orders"),), 0, clock.now + 3600)]
        await engine.am.refresh_silences()
        am.down = True
        clock.advance(31)  # the cached list is now too old to trust
        await engine.am.refresh_silences()
        view = engine.am.view()
        assert view["reachable"] is False
        assert "ConnectError" in view["error"]
        assert view["silences_fresh"] is False
        await deliver(engine, hook())
        assert restarts(engine) == 1

    asyncio.run(go())


def test_maintenance_window_crossing_midnight_in_berlin_skips() -> None:
    async def go() -> None:
        policies = (
            EXTERNAL
            + """
maintenance:
  - name: saturday-night
    services: [orders]
    weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Europe/Berlin}
"""
        )
        # Sunday 2026-11-29 00:30 in Berlin (CET) = Saturday 23:30 UTC
        clock = FakeClock(1_795_908_600.0)
        engine = engine_with(policies, clock, None)
        first = await deliver(engine, hook())
        record = engine.store.get_action(first["scheduled"][0]["id"])
        assert record is not None
        assert (record.outcome, record.reason) == ("skipped", "maintenance")
        assert "saturday-night" in (record.detail or "")
        assert "2026-11-29T00:00:00Z" in (record.detail or "")
        # the window covers orders only: the users alert action is not in maintenance
        disk = await deliver(engine, hook(alertname="DiskFull", starts="2026-11-29T00:00:00Z"))
        assert engine.store.get_action(disk["scheduled"][0]["id"]).reason != "maintenance"  # type: ignore[union-attr]
        clock.advance(1800)  # 01:00 Berlin: the window closed
        second = await deliver(engine, hook(starts="2026-11-29T00:05:00Z"))
        assert engine.store.get_action(second["scheduled"][0]["id"]).outcome == "succeeded"  # type: ignore[union-attr]

    asyncio.run(go())


def test_manual_actions_ignore_maintenance_and_silences() -> None:
    async def go() -> None:
        clock = FakeClock()
        am = FakeAM()
        policies = (
            EXTERNAL
            + "\nmaintenance:\n  - {name: all, start: '2020-01-01T00:00:00Z',"
            + " end: '2099-01-01T00:00:00Z'}\n"
        )
        engine = engine_with(policies, clock, am)
        record = await engine.manual("restart_container", "orders", {}, "operator knows")
        assert record.outcome == "succeeded"

    asyncio.run(go())


def test_alert_action_goes_to_alertmanager_and_records_delivery() -> None:
    async def go() -> None:
        clock = FakeClock()
        am = FakeAM()
        engine = engine_with(EXTERNAL, clock, am)
        sent = await deliver(engine, hook(alertname="DiskFull"))
        record = engine.store.get_action(sent["scheduled"][0]["id"])
        assert record is not None
        assert (record.outcome, record.delivery) == ("succeeded", "sent")
        assert record.target == am.base_url
        labels = am.posted[0]["labels"]
        assert labels["relia_kind"] == "policy_alert"
        assert labels["service"] == "users"
        assert labels["policy"] == "page_on_disk"
        assert labels["severity"] == "critical"
        assert am.posted[0]["annotations"]["summary"] == "disk full on users"
        am.down = True
        clock.advance(400)
        failed = await deliver(engine, hook(alertname="DiskFull", starts="2026-11-30T12:20:00Z"))
        record = engine.store.get_action(failed["scheduled"][0]["id"])
        assert record is not None
        assert (record.outcome, record.delivery) == ("failed", "failed")
        assert record.reason == "alertmanager_unavailable"
        assert "connection refused" in (record.error or "")

    asyncio.run(go())


def test_anomalies_are_forwarded_only_when_enabled() -> None:
    async def go() -> None:
        body = hook(anomaly_id="a-9", service="orders", metric="latency")
        for enabled, expected in ((False, 0), (True, 1)):
            am = FakeAM()
            engine = engine_with(EXTERNAL, FakeClock(), am, alertmanager_forward_anomalies=enabled)
            await deliver(engine, body)
            assert len(am.posted) == expected
        labels = am.posted[0]["labels"]
        assert (labels["relia_kind"], labels["anomaly_id"]) == ("anomaly", "a-9")
        assert am.posted[0]["annotations"]["triage"].endswith("/anomalies/a-9/triage")

    asyncio.run(go())


def test_payload_builder() -> None:
    links = Links("http://dash:3000", "http://anomaly:8080/")
    record = ActionRecord(
        id="act-1",
        created_at=100.0,
        policy="breaker",
        action="alert",
        service="orders",
        outcome="pending",
        params={"message": "circuit breaker opened for orders"},
        trigger=Trigger(anomaly_id="a-1", metric="latency", severity="warning"),
    )
    alert = alert_of_record(record, links, 1_800_000_000.0, 600)
    assert alert["labels"] == {
        "metric": "latency",
        "alertname": "ReliaBreakerOpen",
        "service": "orders",
        "severity": "critical",
        "relia_kind": "breaker_open",
        "policy": "breaker",
    }
    assert alert["annotations"]["triage"] == "http://anomaly:8080/anomalies/a-1/triage"
    assert alert["startsAt"] == "2027-01-15T08:00:00Z"
    assert alert["endsAt"] == "2027-01-15T08:10:00Z"
    # no anomaly: no triage link; unknown severity words become warning
    plain = build_alert(
        kind="policy_alert",
        service="s",
        severity="page",
        policy="p",
        summary="x",
        links=links,
        now=0,
        ttl_s=1,
    )
    assert "triage" not in plain["annotations"]
    assert plain["labels"]["severity"] == "warning"


def test_client_retries_5xx_and_transport_errors_not_4xx() -> None:
    async def go() -> None:
        answers: list[Any] = [503, httpx.ConnectError("refused"), 200]
        seen: list[Any] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return httpx.Response(answer, text="x")

        client = AlertmanagerClient(
            "http://am", backoff_s=0.01, transport=httpx.MockTransport(handler)
        )
        delivery = await client.post_alerts([{"labels": {}}])
        assert delivery.sent
        assert delivery.attempts == 3
        assert seen == ["/api/v2/alerts"] * 3
        answers[:] = [400, 200]
        refused = await client.post_alerts([{"labels": {}}])
        assert not refused.sent
        assert refused.attempts == 1
        assert refused.error == "HTTP 400: x"
        answers[:] = [httpx.ConnectError("refused")] * 3
        down = await client.post_alerts([])
        assert not down.sent
        assert down.attempts == 3
        assert "ConnectError" in (down.error or "")
        await client.aclose()

    asyncio.run(go())


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ("{}", "give an alertname, labels or both"),
        ("{alertname: X, team: sre}", "unknown key 'team'"),
        ("{labels: {'bad-name': x}}", "not a Prometheus label name"),
        ("{labels: {job: [a]}}", "string value"),
        ("HighErrorRate", "must be a mapping"),
    ],
)
def test_bad_alert_matchers_are_refused(alert: str, message: str) -> None:
    text = f"policies:\n  - {{name: p, alert: {alert}, action: alert, service: s}}\n"
    pset, errors = load_policies(text, "p.yml")
    assert pset is None
    assert errors[0].field == "alert"
    assert message in errors[0].message


def test_alert_policy_with_for_is_refused_and_condition_is_optional() -> None:
    text = "policies:\n  - {name: p, alert: {alertname: X}, action: alert, service: s, for: 1m}\n"
    _, errors = load_policies(text, "p.yml")
    assert errors[0].field == "for"
    pset, errors = load_policies(text.replace(", for: 1m", ""), "p.yml")
    assert pset is not None
    assert pset.policies[0].condition == "severity >= normal"
    assert pset.policies[0].as_dict()["alert"] == {"alertname": "X", "labels": {}}


def test_breaker_escalation_goes_to_alertmanager_as_critical() -> None:
    async def go() -> None:
        clock = FakeClock()
        am = FakeAM()
        policies = EXTERNAL.replace(
            "settings: {grace_period: 0s}",
            "settings: {grace_period: 0s, breaker: {failures: 1, open_for: 10m}}",
        )
        engine = engine_with(policies, clock, am)
        engine.actuator.status = "failed"  # type: ignore[attr-defined]
        await deliver(engine, hook())
        await engine.drain(5.0)
        assert engine.store.breaker("orders").state == "open"
        escalation = [a for a in am.posted if a["labels"]["relia_kind"] == "breaker_open"]
        assert len(escalation) == 1
        labels = escalation[0]["labels"]
        assert (labels["alertname"], labels["service"], labels["severity"], labels["policy"]) == (
            "ReliaBreakerOpen",
            "orders",
            "critical",
            "breaker",
        )
        assert "circuit breaker opened for orders" in escalation[0]["annotations"]["summary"]

    asyncio.run(go())


def test_alert_policy_condition_is_judged_on_its_target_service() -> None:
    async def go() -> None:
        policies = """
settings: {grace_period: 0s}
policies:
  - name: restart_when_idle
    alert: {alertname: HighErrorRate}
    condition: "cpu < 0.3"
    action: restart_container
    service: orders
    cooldown: 0s
"""
        clock = FakeClock()
        engine = make_engine(policies, clock=clock)
        snaps = engine.snapshots
        # the alert names service=users; the policy acts on orders: orders' cpu decides
        snaps.set(series("orders", "cpu", 0.9), series("users", "cpu", 0.1))  # type: ignore[attr-defined]
        engine.snapshot = await snaps.fetch(clock.now)
        busy = await deliver(engine, hook(service="users"))
        assert busy["scheduled"] == []
        assert restarts(engine) == 0
        snaps.set(series("orders", "cpu", 0.1), series("users", "cpu", 0.9))  # type: ignore[attr-defined]
        engine.snapshot = await snaps.fetch(clock.now)
        idle = await deliver(engine, hook(service="users", starts="2026-11-30T12:30:00Z"))
        assert [s["service"] for s in idle["scheduled"]] == ["orders"]
        assert restarts(engine) == 1

    asyncio.run(go())
