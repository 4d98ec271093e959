"""Pure core: what the dashboard knows about each backend, and the snapshot the browser sees.

No I/O here. The poller records each fetch (success or error) in a `Store`; `build_snapshot`
turns the store into the JSON the page renders, with an explicit state per backend:

- `no_data`: nothing fetched yet (first poll pending);
- `unreachable`: the latest attempt failed (connection refused, timeout, HTTP error, bad JSON);
  data from an earlier success is still shipped, with its age, never as if it were current;
- `stale`: reachable, but the data itself is older than `stale_after_s` (for the anomaly
  service: its last detection cycle; a service that answers but no longer computes is stale);
- `ok`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dashboard.fetched import BACKENDS as BACKENDS
from dashboard.fetched import Resource as Resource
from dashboard.fetched import SignalHistory as SignalHistory
from dashboard.fetched import Store as Store
from dashboard.links import PublicLinks
from dashboard.shapes import num, obj, seq
from relia_contracts.severity import SEVERITIES

BACKEND_TITLES = {"anomaly": "Anomaly service", "policy": "Policy engine"}


def _summarize_errors(errors: list[str]) -> str | None:
    """One line for the banner: the shared reason once when every failing call says the same."""
    if not errors:
        return None
    reasons = {e.split(": ", 1)[-1] for e in errors}
    if len(reasons) == 1:
        reason = reasons.pop()
        return reason if len(errors) == 1 else f"{reason} ({len(errors)} endpoints)"
    return "; ".join(sorted(errors))


def backend_state(
    backend: str,
    resources: dict[str, Resource],
    now: float,
    stale_after_s: float,
    data_time: float | None = None,
    source_empty: bool = False,
) -> dict[str, Any]:
    """Classify one backend from its endpoints' latest attempts (see module docstring).

    `data_time` is the backend's own time of its data when it says so; `source_empty` is
    true when it answers but has nothing computed yet (no successful cycle).
    """
    attempted = [r for r in resources.values() if r.attempted_at is not None]
    fetched = [r.fetched_at for r in resources.values() if r.fetched_at is not None]
    errors = _summarize_errors([r.error for r in resources.values() if r.error])
    last_success = max(fetched) if fetched else None
    # Age of the data itself: the backend's own timestamp when it has one, else our fetch time.
    data_at = data_time if data_time is not None else (min(fetched) if fetched else None)
    age = None if data_at is None else max(0.0, now - data_at)
    if not attempted:
        status = "no_data"
    elif errors:
        status = "unreachable"
    elif source_empty or age is None:
        status = "no_data"
    elif age > stale_after_s:
        status = "stale"
    else:
        status = "ok"
    return {
        "name": backend,
        "title": BACKEND_TITLES.get(backend, backend),
        "status": status,
        "error": errors,
        "last_success_at": last_success,
        "data_at": data_at,
        "age_s": age,
        "has_data": bool(fetched),
    }


def _anomaly_lists(store: Store, links: PublicLinks) -> dict[str, Any]:
    """Merge the active list and the recent history into one newest-first list."""
    active = obj(store.resource("anomaly", "anomalies_active").data)
    recent = obj(store.resource("anomaly", "anomalies_recent").data)
    merged: dict[str, dict[str, Any]] = {}
    for source in (recent, active):  # active last: its copy is the freshest for open anomalies
        for item in seq(source.get("items")):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                merged[item["id"]] = {**item, "links": links.for_anomaly(item)}
    items = sorted(merged.values(), key=lambda a: num(a.get("opened_at")) or 0.0, reverse=True)
    return {
        "items": items,
        "active_total": active.get("total") if active else None,
        "total": recent.get("total") if recent else None,
    }


def _services(store: Store, links: PublicLinks) -> list[dict[str, Any]]:
    """Per-service health from /services/health, with sparkline history per signal."""
    health = obj(store.resource("anomaly", "services_health").data)
    out = []
    for svc in seq(health.get("services")):
        if not isinstance(svc, dict) or not isinstance(svc.get("service"), str):
            continue
        name = svc["service"]
        signals = {}
        for metric, sig in obj(svc.get("signals")).items():
            sig = obj(sig)
            signals[metric] = {
                "value": num(sig.get("value")),
                "severity": sig.get("severity"),
                "unit": sig.get("unit"),
                "history": store.history.get(name, metric),
            }
        out.append(
            {
                "service": name,
                "status": svc.get("status"),
                "replicas_up": svc.get("replicas_up"),
                "replicas_total": svc.get("replicas_total"),
                "open_anomalies": svc.get("open_anomalies"),
                "signals": signals,
                "links": links.for_service(name),
            }
        )
    return sorted(out, key=lambda s: s["service"])


def _remediation(store: Store) -> dict[str, Any] | None:
    status = store.resource("policy", "status").data
    if not isinstance(status, dict):
        return None
    policies = obj(status.get("policies"))
    actions = obj(status.get("actions"))
    return {
        "enabled": status.get("enabled"),
        "dry_run": status.get("dry_run"),
        "ready": status.get("ready"),
        "docker_reachable": obj(status.get("docker")).get("reachable"),
        "policies_valid": policies.get("valid"),
        "policies_version": policies.get("version"),
        "policies_count": policies.get("count"),
        "policies_error": policies.get("error") or (policies.get("errors") or None),
        "last_evaluation_at": status.get("last_evaluation_at"),
        "actions_total": actions.get("total"),
        "actions_last_hour": actions.get("last_hour"),
    }


def build_snapshot(
    store: Store,
    now: float,
    *,
    poll_interval_s: float,
    stale_after_s: float,
    links: PublicLinks,
) -> dict[str, Any]:
    """The whole page state as JSON-able data. Values are the backends' own, never filled in."""
    predict = store.resource("anomaly", "predict").data
    stats = store.resource("anomaly", "stats").data
    # The anomaly service's data is as old as its last successful cycle (/stats); without
    # /stats, /predict's generation time is the best it says.
    anomaly_time, anomaly_empty, upstream_error = None, False, None
    if isinstance(stats, dict) and "last_success_at" in stats:
        anomaly_time = num(stats.get("last_success_at"))
        anomaly_empty = anomaly_time is None
        upstream_error = obj(stats.get("prometheus")).get("error")
    elif isinstance(predict, dict):
        anomaly_time = num(predict.get("generated_at"))
    backends = {
        "anomaly": backend_state(
            "anomaly",
            store.resources["anomaly"],
            now,
            stale_after_s,
            anomaly_time,
            source_empty=anomaly_empty,
        ),
        "policy": backend_state("policy", store.resources["policy"], now, stale_after_s),
    }
    if isinstance(predict, dict):
        backends["anomaly"]["ready"] = predict.get("ready")
        backends["anomaly"]["cycle"] = predict.get("cycle")
        upstream_error = upstream_error or predict.get("error")
    # Why the backend itself has no fresh data (e.g. it cannot reach Prometheus).
    backends["anomaly"]["upstream_error"] = upstream_error
    status = store.resource("policy", "status").data
    backends["policy"]["upstream_error"] = None
    if isinstance(status, dict):
        backends["policy"]["ready"] = status.get("ready")
    actions = obj(store.resource("policy", "actions").data)
    merged_actions: dict[str, dict[str, Any]] = {}
    for name in ("actions_succeeded", "actions_failed", "actions_dry_run", "actions"):
        for item in seq(obj(store.resource("policy", name).data).get("items")):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                merged_actions[item["id"]] = item
    policies = store.resource("policy", "policies").data
    return {
        "server_time": now,
        "poll_interval_s": poll_interval_s,
        "stale_after_s": stale_after_s,
        "backends": backends,
        "services": _services(store, links),
        "remediation": _remediation(store),
        "anomalies": _anomaly_lists(store, links),
        "actions": {
            "items": sorted(
                merged_actions.values(),
                key=lambda a: num(a.get("created_at")) or 0.0,
                reverse=True,
            ),
            "total": actions.get("total"),
        },
        "policies": policies if isinstance(policies, dict) else None,
        "links": links.base(),
        "severities": list(SEVERITIES),  # the order the page sorts and filters by
        "catalog": links.signals(),  # the signals' names, units and order the page shows
        "catalog_source": links.catalog_source,
    }


# Clocks that move every poll; a push is due only when something else changed.
_VOLATILE = {"server_time", "age_s", "data_at", "last_success_at"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def digest(snapshot: dict[str, Any]) -> str:
    """A fingerprint of the snapshot's content, ignoring clocks, to push only on change."""
    raw = json.dumps(_strip(snapshot), sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def actions_for_anomaly(actions: list[dict[str, Any]], anomaly_id: str) -> list[dict[str, Any]]:
    """Actions whose trigger names this anomaly, oldest first (for chart markers)."""
    hits = [
        a
        for a in actions
        if isinstance(a, dict) and obj(a.get("trigger")).get("anomaly_id") == anomaly_id
    ]
    return sorted(hits, key=lambda a: num(a.get("created_at")) or 0.0)
