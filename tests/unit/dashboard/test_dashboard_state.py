"""The pure state core: backend classification, history, snapshot shape, change digest."""

from __future__ import annotations

from dashboard.links import PublicLinks
from dashboard.state import (
    Resource,
    SignalHistory,
    Store,
    actions_for_anomaly,
    backend_state,
    build_snapshot,
    digest,
)

LINKS = PublicLinks("http://g:3001", "/dashboards", "http://j:16686", "http://p:9090")


def _snap(store: Store, now: float) -> dict:
    return build_snapshot(store, now, poll_interval_s=2.0, stale_after_s=15.0, links=LINKS)


def test_never_polled_is_no_data() -> None:
    state = backend_state("anomaly", {"predict": Resource()}, now=100.0, stale_after_s=15)
    assert state["status"] == "no_data"
    assert state["has_data"] is False
    assert state["age_s"] is None


def test_fresh_success_is_ok() -> None:
    res = Resource()
    res.record_ok({"x": 1}, now=100.0)
    state = backend_state("policy", {"status": res}, now=101.0, stale_after_s=15)
    assert state["status"] == "ok"
    assert state["age_s"] == 1.0


def test_failed_attempt_is_unreachable_and_keeps_old_data_with_its_age() -> None:
    res = Resource()
    res.record_ok({"x": 1}, now=100.0)
    res.record_error("GET /status: connection refused or host unreachable", now=130.0)
    state = backend_state("policy", {"status": res}, now=131.0, stale_after_s=15)
    assert state["status"] == "unreachable"
    assert "connection refused" in state["error"]
    assert res.data == {"x": 1}  # nothing lost
    assert state["has_data"] is True
    assert state["age_s"] == 31.0


def test_unreachable_without_any_data() -> None:
    res = Resource()
    res.record_error("GET /predict: timed out", now=100.0)
    state = backend_state("anomaly", {"predict": res}, now=100.0, stale_after_s=15)
    assert state["status"] == "unreachable"
    assert state["has_data"] is False


def test_backend_own_timestamp_makes_data_stale_even_when_reachable() -> None:
    res = Resource()
    res.record_ok({"generated_at": 50.0}, now=100.0)
    state = backend_state("anomaly", {"predict": res}, now=100.0, stale_after_s=15, data_time=50.0)
    assert state["status"] == "stale"
    assert state["age_s"] == 50.0


def test_one_failing_endpoint_names_itself() -> None:
    good, bad = Resource(), Resource()
    good.record_ok({}, now=10.0)
    bad.record_error("HTTP 500 boom", now=10.0)
    state = backend_state("policy", {"status": good, "actions": bad}, now=10.0, stale_after_s=15)
    assert state["status"] == "unreachable"
    assert state["error"] == "HTTP 500 boom"


def test_same_failure_everywhere_is_said_once_and_different_ones_each() -> None:
    a, b = Resource(), Resource()
    a.record_error("GET /status: timed out", now=1.0)
    b.record_error("GET /actions: timed out", now=1.0)
    assert backend_state("policy", {"s": a, "a": b}, 1.0, 15)["error"] == (
        "timed out (2 endpoints)"
    )
    b.record_error("GET /actions: HTTP 500 boom", now=2.0)
    assert backend_state("policy", {"s": a, "a": b}, 2.0, 15)["error"] == (
        "GET /actions: HTTP 500 boom; GET /status: timed out"
    )


def test_history_dedupes_by_series_timestamp_and_keeps_missing_values_as_none() -> None:
    hist = SignalHistory(maxlen=3)
    point = {"service": "orders", "metric": "latency", "value": 0.1, "ts": 1.0}
    hist.add_predict({"series": [point]})
    hist.add_predict({"series": [point]})  # same cycle polled twice: one point
    hist.add_predict({"series": [{**point, "value": None, "ts": 2.0}]})
    hist.add_predict({"series": [{**point, "value": 0.3, "ts": 3.0}]})
    hist.add_predict({"series": [{**point, "value": 0.4, "ts": 4.0}]})
    assert hist.get("orders", "latency") == [[2.0, None], [3.0, 0.3], [4.0, 0.4]]


def test_snapshot_merges_active_and_recent_anomalies_newest_first() -> None:
    store = Store()
    active = {
        "items": [
            {
                "id": "a-2",
                "service": "orders",
                "metric": "latency",
                "status": "active",
                "opened_at": 20.0,
            }
        ],
        "total": 1,
    }
    recent = {
        "items": [
            {
                "id": "a-2",
                "service": "orders",
                "metric": "latency",
                "status": "active",
                "opened_at": 20.0,
                "stale_copy": True,
            },
            {
                "id": "a-1",
                "service": "users",
                "metric": "cpu",
                "status": "resolved",
                "opened_at": 10.0,
            },
        ],
        "total": 7,
    }
    store.resource("anomaly", "anomalies_active").record_ok(active, 30.0)
    store.resource("anomaly", "anomalies_recent").record_ok(recent, 30.0)
    snap = _snap(store, 31.0)
    ids = [a["id"] for a in snap["anomalies"]["items"]]
    assert ids == ["a-2", "a-1"]
    assert "stale_copy" not in snap["anomalies"]["items"][0]  # the active list's copy wins
    assert snap["anomalies"]["active_total"] == 1
    assert snap["anomalies"]["total"] == 7
    links = snap["anomalies"]["items"][1]["links"]
    assert links["jaeger"].startswith("http://j:16686/search?service=users")
    assert "process_cpu_seconds_total" in links["prometheus"]


def test_snapshot_without_data_invents_nothing() -> None:
    snap = _snap(Store(), 5.0)
    assert snap["services"] == []
    assert snap["remediation"] is None
    assert snap["policies"] is None
    assert snap["anomalies"]["active_total"] is None
    assert {b["status"] for b in snap["backends"].values()} == {"no_data"}


def test_services_keep_null_values_as_null() -> None:
    store = Store()
    store.resource("anomaly", "services_health").record_ok(
        {
            "services": [
                {
                    "service": "users",
                    "status": "no_data",
                    "replicas_up": 0,
                    "replicas_total": 1,
                    "open_anomalies": 1,
                    "signals": {
                        "latency": {"value": None, "severity": "critical", "unit": "seconds"}
                    },
                }
            ]
        },
        1.0,
    )
    snap = _snap(store, 2.0)
    signal = snap["services"][0]["signals"]["latency"]
    assert signal["value"] is None
    assert signal["severity"] == "critical"


def test_digest_ignores_clocks_but_not_content() -> None:
    store = Store()
    store.resource("policy", "status").record_ok({"enabled": True}, 1.0)
    first = digest(_snap(store, 2.0))
    store.resource("policy", "status").record_ok({"enabled": True}, 3.0)
    assert digest(_snap(store, 4.0)) == first  # only fetch and server times moved
    store.resource("policy", "status").record_ok({"enabled": False}, 5.0)
    assert digest(_snap(store, 6.0)) != first


def test_actions_for_anomaly_filters_and_orders() -> None:
    actions = [
        {"id": "2", "created_at": 20.0, "trigger": {"anomaly_id": "a-1"}},
        {"id": "x", "created_at": 5.0, "trigger": {"anomaly_id": "a-9"}},
        {"id": "1", "created_at": 10.0, "trigger": {"anomaly_id": "a-1"}},
        {"id": "m", "created_at": 1.0, "trigger": None},
    ]
    assert [a["id"] for a in actions_for_anomaly(actions, "a-1")] == ["1", "2"]


def test_anomaly_service_without_a_successful_cycle_is_no_data_with_its_reason() -> None:
    store = Store()
    store.resource("anomaly", "stats").record_ok(
        {"last_success_at": None, "prometheus": {"error": "connection refused"}}, 10.0
    )
    store.resource("anomaly", "predict").record_ok(
        {"generated_at": 10.0, "ready": False, "series": []}, 10.0
    )
    state = _snap(store, 10.0)["backends"]["anomaly"]
    assert state["status"] == "no_data"
    assert state["upstream_error"] == "connection refused"


def test_anomaly_service_age_comes_from_its_last_successful_cycle() -> None:
    store = Store()
    store.resource("anomaly", "stats").record_ok(
        {"last_success_at": 70.0, "prometheus": {"error": "timed out"}}, 100.0
    )
    state = _snap(store, 100.0)["backends"]["anomaly"]
    assert state["status"] == "stale"
    assert state["age_s"] == 30.0
    assert state["upstream_error"] == "timed out"


def test_nested_garbage_never_breaks_the_snapshot() -> None:
    junk: list[object] = [
        None,
        1,
        "x",
        [1, "a"],
        {"items": "x"},
        {"services": [{"service": "s", "signals": [1]}]},
        {"series": [None, {"service": 1}]},
        {"policies": [], "actions": "n", "docker": 3, "prometheus": "p"},
        {"items": [None, {"id": 5}, {"id": "a", "opened_at": "soon"}]},
    ]
    names = {
        "anomaly": ["predict", "services_health", "stats", "anomalies_active", "anomalies_recent"],
        "policy": ["status", "policies", "actions"],
    }
    for value in junk:
        store = Store()
        for backend, resources in names.items():
            for name in resources:
                store.resource(backend, name).record_ok(value, 1.0)
        if isinstance(value, dict):
            store.history.add_predict(value)
        snap = _snap(store, 2.0)
        assert set(snap["backends"]) == {"anomaly", "policy"}
        digest(snap)
