"""Read models built from engine state (pure functions of the engine)."""

from __future__ import annotations

from typing import Any

from anomaly_service.engine import Engine
from anomaly_service.feedback import series_id
from anomaly_service.records import SeriesState
from relia_contracts.severity import SEVERITIES


def series_view(engine: Engine, state: SeriesState) -> dict[str, Any]:
    obs = state.last
    anomaly = state.no_data or state.deviation
    missing = state.missing_cycles > 0 or obs is None
    return {
        "service": state.service,
        "metric": state.spec.name,
        "labels": dict(state.labels),
        "value": None if missing or obs is None else obs.value,
        "baseline": None if obs is None else obs.baseline,
        "lower": None if obs is None else obs.lower,
        "upper": None if obs is None else obs.upper,
        "score": None if obs is None else obs.score,
        "severity": SEVERITIES[anomaly.severity] if anomaly else "normal",
        "kind": anomaly.kind if anomaly else None,
        "unit": state.spec.unit,
        "direction": state.spec.direction,
        "warming_up": True if obs is None else obs.warming,
        "anomaly_id": anomaly.id if anomaly else None,
        "ts": state.last_ts,
        "missing_cycles": state.missing_cycles,
        "caused_by": (anomaly.cause_fields()["caused_by"] if anomaly else []),
        "caused_by_load": bool(anomaly and anomaly.load_driven),
        **sensitivity_fields(engine, state),
    }


def sensitivity_fields(engine: Engine, state: SeriesState) -> dict[str, Any]:
    """The operator's sensitivity for the series (1.0 and no mute: the detector's own)."""
    sens = engine.history.by_key.get(state.key)
    now = engine.clock()
    return {
        "series_id": series_id(state.spec.name, state.labels),
        "sensitivity": 1.0 if sens is None else sens.factor,
        "muted_until": sens.muted_until if sens is not None and sens.muted(now) else None,
    }


def predict(engine: Engine) -> dict[str, Any]:
    series = [series_view(engine, s) for s in engine.tracker.series.values()]
    series.sort(key=lambda v: (v["service"], v["metric"], sorted(v["labels"].items())))
    fresh = engine.fresh()
    return {
        "generated_at": engine.clock(),
        "cycle": engine.state.cycle,
        "ready": fresh,
        # stale: the snapshot is from the last good cycle, Prometheus is not answering now.
        "stale": not fresh,
        "error": engine.state.prometheus_error,
        "series": series,
    }


def services_health(engine: Engine) -> dict[str, Any]:
    fresh = engine.fresh()
    per: dict[str, dict[str, Any]] = {}

    def entry(service: str) -> dict[str, Any]:
        if service not in per:
            up, total = engine.state.replicas.get(service, (0, 0))
            per[service] = {
                "service": service,
                "status": "healthy",
                "replicas_up": up,
                "replicas_total": total,
                "open_anomalies": 0,
                "signals": {},
                "_worst": 0,
                "_no_data": False,
            }
        return per[service]

    for service in engine.state.replicas:
        entry(service)
    for state in engine.tracker.series.values():
        if state.service:
            _add_signal(entry(state.service)["signals"], engine, state)
    for anomaly in engine.tracker.active.values():
        e = entry(anomaly.service)
        e["open_anomalies"] += 1
        e["_worst"] = max(e["_worst"], anomaly.severity)
        e["_no_data"] = e["_no_data"] or anomaly.kind == "no_data"
    out = []
    for service in sorted(per):
        e = per[service]
        e["status"] = _status(e, fresh)
        e.pop("_worst")
        e.pop("_no_data")
        out.append(e)
    return {
        "generated_at": engine.clock(),
        "ready": fresh,
        "stale": not fresh,
        "error": engine.state.prometheus_error,
        "services": out,
    }


def _add_signal(signals: dict[str, Any], engine: Engine, state: SeriesState) -> None:
    """A series' newest value under its metric; of several series of one metric for a
    service (extra labels), the worst is shown."""
    view = series_view(engine, state)
    current = signals.get(state.spec.name)
    if current is None or SEVERITIES.index(view["severity"]) > SEVERITIES.index(
        current["severity"]
    ):
        signals[state.spec.name] = {
            "value": view["value"],
            "severity": view["severity"],
            "unit": state.spec.unit,
            "kind": view["kind"],
        }


def _status(e: dict[str, Any], fresh: bool) -> str:
    if not fresh:
        return "unknown"  # Prometheus not answering: never claim healthy
    if e["_no_data"] or (e["replicas_total"] > 0 and e["replicas_up"] == 0):
        return "no_data"
    if e["_worst"] >= SEVERITIES.index("critical"):
        return "critical"
    if e["_worst"] >= SEVERITIES.index("warning"):
        return "degraded"
    return "healthy"
