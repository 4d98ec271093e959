"""Scenario steps shared by the e2e files: start from a quiet, learned signal, inject, wait for
the fault's anomaly and the action that answers it. Which anomaly is the fault's and which
action answered it is judged by the chaos library's scenario logic (chaos_simulator.scenario),
the code `chaos scenario` judges with; every wait is the one bounded wait_until."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from chaos_simulator.client import Record
from chaos_simulator.scenario import (
    RESTART,
    active_anomalies,
    cooldown_left,
    match_action,
    match_anomaly,
    matching_actions,
    warm_series,
)
from tests.e2e.prom import Prometheus
from tests.e2e.report import REPORT, Timing
from tests.e2e.sync_client import PLATFORM_ERRORS, SyncPlatform, wait_until

T = TypeVar("T")
# An anomaly counts as the fault's from a second before the injection: the fault's start is the
# service's clock, the anomaly's opening the anomaly service's.
SLACK_S = 1.0
WARM_METRICS = ("latency", "error_rate", "cpu", "request_rate")
SERVICES = ("orders", "users", "payments")


def wait_quiet(api: SyncPlatform, service: str, metric: str, calm_s: float = 0.0) -> None:
    """Start a fault from a normal, learned signal. Noise can open an anomaly just before the
    fault (seen in CI: users' p99 at 0.12 s against a 0.1 s band while payments restarted beside
    it); the fault then escalates that anomaly, which opened before the fault and reads as not
    detected. A series still warming holds its verdicts at normal: a fault then goes unseen.
    `calm_s`: quiet for that long, not just now (an earlier scenario's after-effect may not
    have opened its anomaly yet)."""
    wait_until(f"{service} {metric} past warm-up",
               lambda: (service, metric) in warm_series(api.series()), 300, 2)  # fmt: skip
    wait_until(
        f"no open {metric} anomaly on {service} before the fault"
        + (f" for {calm_s:.0f} s" if calm_s else ""),
        calm_for(
            calm_s,
            lambda: not active_anomalies(
                api.anomalies(service=service, metric=metric, status="active"), service, metric
            ),
        ),
        90 + calm_s, 1,
    )  # fmt: skip


def calm_for(calm_s: float, quiet: Callable[[], bool]) -> Callable[[], bool]:
    """A probe true once `quiet()` has held at every check for `calm_s` seconds in a row."""
    since: float | None = None

    def probe() -> bool:
        nonlocal since
        now = time.monotonic()
        if not quiet():
            since = None
            return False
        since = now if since is None else since
        return now - since >= calm_s

    return probe


def start_fault(api: SyncPlatform, scenario: str, service: str, kind: str, **params: Any) -> Timing:
    """Inject the fault and open the scenario's row of the report, timed from the injection."""
    fault = api.inject(service, kind, **params)
    assert fault.started_at is not None, fault
    timing = Timing(scenario, fault.started_at)
    REPORT.timings.append(timing)
    return timing


def find_anomaly(
    api: SyncPlatform, service: str, metric: str, since: float, min_severity: str = "warning"
) -> Record | None:
    """The first anomaly (>= `min_severity`) on the series opened since the fault."""
    found = api.anomalies(service=service, metric=metric, severity=min_severity,
                          since=since - SLACK_S)  # fmt: skip
    return match_anomaly(found, service, metric, since - SLACK_S)


def find_action(
    api: SyncPlatform, service: str, action: str, since: float, outcome: str = "succeeded"
) -> Record | None:
    """The first `action` on `service` since `since` with that outcome."""
    records = api.actions(service=service, action=action, since=since)
    found, _ = match_action(records, service, (action,), since, False, outcomes=(outcome,))
    return found


@dataclass
class ScaleUpWatch:
    """A wait_for probe: the first scale_up of `service` since `since`, reading the service's
    CPU (its busiest replica, cores) at every poll: the peak goes in the report, and a missing
    scale_up can say what the host gave the service."""

    api: SyncPlatform
    prom: Prometheus
    service: str
    since: float
    cpu: list[float] = field(default_factory=list)

    def __call__(self) -> Record | None:
        cpu = self.prom.value(
            f'max(rate(process_cpu_seconds_total{{job="services",service="{self.service}"}}[15s]))'
        )
        if cpu is not None:
            self.cpu.append(cpu)
        return find_action(self.api, self.service, "scale_up", self.since)

    @property
    def peak(self) -> float:
        return max(self.cpu, default=float("nan"))


def restarts_of(api: SyncPlatform, service: str, since: float) -> list[Record]:
    """Restarts Docker carried out on `service` since a time (for wrong-target counts)."""
    records = api.actions(service=service, action=RESTART[0], since=since)
    return matching_actions(records, service, RESTART, since, ("succeeded",))


def explain(api: SyncPlatform, service: str, since: float) -> str:
    """What the platform did about `service` since `since` (for failure messages)."""
    try:
        actions = [
            f"{a['policy']}:{a['action']}={a['outcome']}/{a['reason']}"
            f"@+{a['created_at'] - since:.0f}s"
            for a in api.actions(service=service, since=since)
        ]
        # resolution and attribution too: a failed victim check needs to see what each
        # anomaly was blamed on and when it closed
        anomalies = [
            f"{a['metric']}:{a['severity']}:{a['kind']}:{a['status']}"
            f"@+{a['opened_at'] - since:.0f}s"
            + (f" resolved@+{a['resolved_at'] - since:.0f}s" if a.get("resolved_at") else "")
            + f" caused_by={a.get('caused_by')} load={a.get('caused_by_load')}"
            for a in api.anomalies(service=service, since=since)
        ]
    except PLATFORM_ERRORS as exc:
        return f"(platform unreachable: {exc!r})"
    return f"actions={actions[:12]} anomalies={anomalies[:12]}"


def wait_for(
    api: SyncPlatform,
    service: str,
    since: float,
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
) -> T:
    """wait_until, and on timeout say what the platform did about the service meanwhile."""
    try:
        return wait_until(what, probe, timeout, 1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n  {service}: {explain(api, service, since)}") from None


def wait_detected(api: SyncPlatform, timing: Timing, service: str, metric: str) -> None:
    """Wait for the fault's anomaly (>= warning, opened after the fault) and time it; on a
    timeout, say what the detector saw of the series (its value against its band)."""
    try:
        anomaly = wait_for(
            api, service, timing.fault_at, f"a {metric} anomaly on {service}",
            lambda: find_anomaly(api, service, metric, timing.fault_at), 120,
        )  # fmt: skip
    except AssertionError as exc:
        seen = series_seen(api, service, metric)
        raise AssertionError(f"{exc}\n  the detector's view: {seen}") from None
    timing.anomaly_at = anomaly["opened_at"]


def series_seen(api: SyncPlatform, service: str, metric: str) -> list[str]:
    """One series' latest value, band and verdict from the anomaly service, for failures."""
    return [
        f"value {s.get('value')} baseline {s.get('baseline')} band [{s.get('lower')}, "
        f"{s.get('upper')}] severity {s.get('severity')} warming {s.get('warming_up')}"
        for s in api.series()
        if s["service"] == service and s["metric"] == metric
    ]


def victim_triage(
    api: SyncPlatform, victim: str, culprit: str, metric: str, since: float
) -> Record:
    """The victim's anomaly opened by the culprit's fault, and its triage packet naming it."""
    try:
        anomaly = wait_until(
            f"a {metric} anomaly on {victim} attributed to {culprit}",
            lambda: match_anomaly(
                api.anomalies(service=victim, metric=metric, since=since - SLACK_S),
                victim, metric, since - SLACK_S, caused_by=culprit,
            ),
            90, 1,
        )  # fmt: skip
    except AssertionError as exc:
        # which anomalies the victim and the culprit had, when, and what each was blamed on
        raise AssertionError(
            f"{exc}\n  {victim}: {explain(api, victim, since)}"
            f"\n  {culprit}: {explain(api, culprit, since)}"
        ) from None
    packet = api.run(api.client.anomaly.triage(anomaly["id"]))
    assert packet["suspected_cause"]["caused_by"] == [culprit], packet["suspected_cause"]
    assert packet["suspected_cause"]["evidence"], packet["suspected_cause"]
    return packet


def wait_fault_gone(api: SyncPlatform, service: str) -> None:
    wait_until(f"{service} to have no active fault", lambda: api.faults(service) == [], 30)


def wait_cooldowns_over(api: SyncPlatform, policy: str, timeout_s: float = 330.0) -> None:
    """Until `policy` is held back by no cooldown, its own or another policy's on the same
    target (one restart per target per window: an earlier scenario's restart counts)."""

    def free() -> bool:
        view = next(p for p in api.policies() if p["name"] == policy)
        return cooldown_left(view) == 0

    wait_until(f"{policy} to be out of every cooldown", free, timeout_s, 2)


def wait_baselines_warm(api: SyncPlatform, prom: Prometheus, timeout_s: float = 480.0) -> None:
    """Until the signals the scenarios fault are past warm-up on every service (verdicts are
    held at normal before; latency warms later than memory, as it needs requests). On timeout
    the message says which series were still cold and why they might be (their last rows, the
    Prometheus targets' health, the traffic's outcome), since CI shows only its tail."""
    wanted = {(s, m) for s in SERVICES for m in WARM_METRICS}
    try:
        wait_until("baselines to warm up", lambda: wanted <= warm_series(api.series()),
                   timeout_s, 5)  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cold_series_report(api, prom, wanted)}") from None


def cold_series_report(api: SyncPlatform, prom: Prometheus, wanted: set[tuple[str, str]]) -> str:
    """What the anomaly service and Prometheus say about the series still warming up."""
    lines = []
    with contextlib.suppress(*PLATFORM_ERRORS, ValueError, KeyError):
        rows = api.series()
        cold = sorted(wanted - warm_series(rows))
        lines.append(f"still warming: {cold}")
        for row in rows:
            if (row["service"], row["metric"]) in cold:
                keep = ("service", "metric", "value", "warming_up", "missing_cycles", "ts")
                lines.append(f"  {dict((k, row.get(k)) for k in keep)}")
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        lines.append("prometheus targets: " + "; ".join(
            f"{t['labels'].get('job')}/{t['labels'].get('instance')}={t['health']}"
            f"{' (' + t['lastError'] + ')' if t.get('lastError') else ''}"
            for t in prom.targets()
        ))  # fmt: skip
    return "\n".join(lines)
