"""The e2e harness: the compose stack on the real engine, traffic, clients and a timing table.

Everything talks to 127.0.0.1 (published ports) or to the project's own containers. Every loop
is bounded in count and time.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
PROJECT = "relia"  # fixed: the Prometheus config and the policy engine's blast radius use it
UPSTREAM_ONLY_IMAGES = (
    "grafana/loki:3.4.2", "grafana/alloy:v1.8.1", "jaegertracing/jaeger:2.5.0",
    "grafana/grafana:11.5.2",
)  # fmt: skip

ORDERS = "http://127.0.0.1:8001"
USERS = "http://127.0.0.1:8002"
PAYMENTS = "http://127.0.0.1:8003"
GATEWAY = {"orders": ORDERS, "users": USERS, "payments": PAYMENTS}
ANOMALY = "http://127.0.0.1:8080"
POLICY = "http://127.0.0.1:8081"
PROMETHEUS = "http://127.0.0.1:9090"

T = TypeVar("T")


def image_present(image: str) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0
    )


def offline_mode() -> bool:
    """RELIA_E2E_OFFLINE=1/0 forces it; otherwise offline when an upstream-only image is absent."""
    forced = os.environ.get("RELIA_E2E_OFFLINE", "").strip().lower()
    if forced in {"1", "true", "yes"}:
        return True
    if forced in {"0", "false", "no"}:
        return False
    return not all(image_present(image) for image in UPSTREAM_ONLY_IMAGES)


def compose_cmd(offline: bool) -> list[str]:
    cmd = ["docker", "compose", "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
    if offline:
        cmd += ["-f", str(REPO / "docker-compose.offline.yml")]
    # A local override (e.g. a different build) for developers; unset in CI.
    extra = os.environ.get("RELIA_E2E_EXTRA_COMPOSE", "").strip()
    if extra:
        cmd += ["-f", extra]
    return cmd


def run(cmd: list[str], timeout: float, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result


def wait_until(
    what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 1.0
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last_error = repr(exc)
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} {last_error}")


# --- clients ---------------------------------------------------------------------------------


class Api:
    """Small synchronous clients for the platform's APIs (every call has a timeout)."""

    def __init__(self, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(timeout=5.0, headers=headers)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, **params: Any) -> Any:
        response = self.http.get(url, params={k: v for k, v in params.items() if v is not None})
        response.raise_for_status()
        return response.json()

    # Prometheus
    def prom(self, query: str) -> list[dict[str, Any]]:
        return list(self.get(PROMETHEUS + "/api/v1/query", query=query)["data"]["result"])

    def prom_value(self, query: str) -> float | None:
        result = self.prom(query)
        return float(result[0]["value"][1]) if result else None

    def p99(self, service: str, window: str = "15s") -> float | None:
        return self.prom_value(
            "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket"
            f'{{job="services",service="{service}"}}[{window}])))'
        )

    def error_ratio(self, service: str, window: str = "15s") -> float | None:
        sel = f'job="services",service="{service}"'
        return self.prom_value(
            f'(sum(rate(http_server_request_duration_seconds_count{{{sel},status_code=~"5.."}}'
            f"[{window}])) or vector(0)) / sum(rate(http_server_request_duration_seconds_count"
            f"{{{sel}}}[{window}]))"
        )

    # anomaly service
    def anomalies(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.get(ANOMALY + "/anomalies", limit=500, **filters)["items"])

    # policy engine
    def actions(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.get(POLICY + "/actions", limit=500, **filters)["items"])

    def status(self) -> dict[str, Any]:
        return dict(self.get(POLICY + "/status"))

    def toggle(self, enabled: bool) -> dict[str, Any]:
        response = self.http.post(POLICY + "/toggle", json={"enabled": enabled})
        response.raise_for_status()
        return dict(response.json())

    # demo services (through the gateway)
    def inject(self, service: str, kind: str, **params: Any) -> dict[str, Any]:
        """POST /chaos through the gateway; retried while the service is briefly unreachable
        (a 502/503/504 from the gateway during a restart), never on a 4xx."""
        body = {"kind": kind, **params}
        deadline = time.monotonic() + 45
        while True:
            response = self.http.post(GATEWAY[service] + "/chaos", json=body)
            if response.status_code not in (502, 503, 504) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert response.status_code == 201, f"{response.status_code} {response.text[:300]}"
        return dict(response.json())

    def explain(self, service: str, since: float) -> str:
        """What the platform did about `service` since `since` (for failure messages)."""
        try:
            actions = [
                f"{a['policy']}:{a['action']}={a['outcome']}/{a['reason']}"
                f"@+{a['created_at'] - since:.0f}s"
                for a in self.actions(service=service, since=since)
            ]
            anomalies = [
                f"{a['metric']}:{a['severity']}:{a['kind']}:{a['status']}"
                f"@+{a['opened_at'] - since:.0f}s"
                for a in self.anomalies(service=service, since=since)
            ]
        except httpx.HTTPError as exc:
            return f"(platform unreachable: {exc!r})"
        return f"actions={actions[:12]} anomalies={anomalies[:12]}"

    def clear_count(self, service: str) -> int:
        """DELETE /chaos once through the gateway: how many faults that replica cleared."""
        try:
            response = self.http.delete(GATEWAY[service] + "/chaos")
            return int(response.json().get("cleared", 0)) if response.is_success else 0
        except (httpx.HTTPError, ValueError):
            return 0

    def clear(self, service: str) -> None:
        # Best effort: a restart clears faults anyway.
        with contextlib.suppress(httpx.HTTPError):
            self.http.delete(GATEWAY[service] + "/chaos")


def containers(service: str) -> list[dict[str, str]]:
    """Running containers of one compose service of the project (docker ps)."""
    result = run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--filter", f"label=com.docker.compose.service={service}",
         "--format", "{{.ID}} {{.Names}} {{.Status}}"],
        timeout=30,
    )  # fmt: skip
    rows = []
    for line in result.stdout.splitlines():
        cid, name, status = line.split(" ", 2)
        rows.append({"id": cid, "name": name, "status": status})
    return rows


def container_started_at(name: str) -> float:
    out = run(["docker", "inspect", "-f", "{{.State.StartedAt}}", name], timeout=30).stdout.strip()
    from datetime import datetime

    return datetime.fromisoformat(out[:26].rstrip("Z") + "+00:00").timestamp()


GRACE_S = 50.0  # the shipped policies' grace_period (45 s) plus a margin


def wait_past_grace(service: str) -> None:
    """The engine leaves containers younger than the grace period alone: wait until the
    service's youngest replica is older."""
    youngest = max(container_started_at(row["name"]) for row in containers(service))
    age = time.time() - youngest
    if age < GRACE_S:
        time.sleep(GRACE_S - age)


# --- traffic ---------------------------------------------------------------------------------


@dataclass
class TrafficStats:
    sent: int = 0
    failed: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class Traffic:
    """Healthy background traffic at a bounded rate from a few threads, until stopped."""

    def __init__(self, rate_per_s: float = 8.0, threads: int = 4, max_duration_s: float = 3600):
        self.rate = rate_per_s
        self.threads = threads
        self.max_duration_s = max_duration_s
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _one(self, client: httpx.Client, rng: random.Random) -> int:
        pick = rng.random()
        if pick < 0.35:
            return client.get(f"{USERS}/users/u-{rng.randint(1, 50)}").status_code
        if pick < 0.5:
            return client.get(f"{USERS}/users").status_code
        if pick < 0.75:
            body = {"customer_id": f"u-{rng.randint(1, 50)}",
                    "items": [{"sku": f"sku-{rng.randint(1, 20)}", "qty": rng.randint(1, 3),
                               "unit_price": round(rng.uniform(1, 50), 2)}]}  # fmt: skip
            return client.post(f"{ORDERS}/orders", json=body).status_code
        if pick < 0.85:
            return client.get(f"{ORDERS}/orders").status_code
        payment = {
            "order_id": f"o-{rng.randint(1, 10**6)}",
            "customer_id": f"u-{rng.randint(1, 50)}",
            "amount": round(rng.uniform(1, 200), 2),
        }
        return client.post(f"{PAYMENTS}/payments/authorize", json=payment).status_code

    def _worker(self, seed: int) -> None:
        rng = random.Random(seed)
        period = self.threads / self.rate
        deadline = time.monotonic() + self.max_duration_s
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    code = self._one(client, rng)
                    with self._lock:
                        self.stats.sent += 1
                        self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1
                except httpx.HTTPError:
                    with self._lock:
                        self.stats.sent += 1
                        self.stats.failed += 1
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def start(self) -> Traffic:
        for i in range(self.threads):
            thread = threading.Thread(target=self._worker, args=(i,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=15)


# --- the timing table ------------------------------------------------------------------------


@dataclass
class Timing:
    scenario: str
    fault_at: float
    anomaly_at: float | None = None
    action_at: float | None = None
    normal_at: float | None = None
    note: str = ""

    def row(self) -> dict[str, Any]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.fault_at, 1)

        return {"scenario": self.scenario, "to_anomaly_s": rel(self.anomaly_at),
                "to_action_s": rel(self.action_at), "to_normal_s": rel(self.normal_at),
                "note": self.note}  # fmt: skip


@dataclass
class Report:
    timings: list[Timing] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        lines = [
            f"{'scenario':<34} {'->anomaly':>10} {'->action':>10} {'->normal':>10}  note",
        ]
        for timing in self.timings:
            row = timing.row()

            def cell(v: float | None) -> str:
                return "-" if v is None else f"{v:.1f}s"

            lines.append(
                f"{row['scenario']:<34} {cell(row['to_anomaly_s']):>10} "
                f"{cell(row['to_action_s']):>10} {cell(row['to_normal_s']):>10}  {row['note']}"
            )
        for key, value in self.facts.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(
            {"timings": [t.row() for t in self.timings], "facts": self.facts,
             "outcomes": self.outcomes}, indent=2))  # fmt: skip


REPORT = Report()


def docker_stats() -> tuple[list[str], float]:
    """Per-container resident memory of the project, and the total in MiB."""
    names = run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--format", "{{.Names}}"], timeout=30,
    ).stdout.split()  # fmt: skip
    if not names:
        return [], 0.0
    result = run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names],
        timeout=60,
    )
    rows, total = [], 0.0
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    for line in result.stdout.splitlines():
        _name, usage = line.split(" ", 1)
        amount = usage.split("/")[0].strip()
        for unit, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
            if amount.endswith(unit):
                total += float(amount[: -len(unit)]) * factor
                break
        rows.append(line)
    return rows, total


# ---- scenario steps shared by the e2e files ------------------------------------------------


def wait_quiet(api: Api, service: str, metric: str) -> None:
    """Start a fault from a normal, learned signal. Noise can open an anomaly just before the
    fault (seen in CI: users' p99 at 0.12 s against a 0.1 s band while payments restarted beside
    it); the fault then escalates that anomaly, which opened before the fault and reads as not
    detected. A series still warming holds its verdicts at normal: a fault then goes unseen."""
    wait_until(f"{service} {metric} past warm-up",
               lambda: (service, metric) in warm_series(api), 300, 2)  # fmt: skip
    wait_until(
        f"no open {metric} anomaly on {service} before the fault",
        lambda: not api.anomalies(service=service, metric=metric, status="active"), 90, 1,
    )  # fmt: skip


def start_fault(api: Api, scenario: str, service: str, kind: str, **params: Any) -> Timing:
    """Inject the fault and open the scenario's row of the report, timed from the injection."""
    fault = api.inject(service, kind, **params)
    timing = Timing(scenario, fault["started_at"])
    REPORT.timings.append(timing)
    return timing


def wait_detected(api: Api, timing: Timing, service: str, metric: str) -> None:
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


def series_seen(api: Api, service: str, metric: str) -> list[str]:
    """One series' latest value, band and verdict from the anomaly service, for failures."""
    return [
        f"value {s.get('value')} baseline {s.get('baseline')} band [{s.get('lower')}, "
        f"{s.get('upper')}] severity {s.get('severity')} warming {s.get('warming_up')}"
        for s in api.get(ANOMALY + "/predict")["series"]
        if s["service"] == service and s["metric"] == metric
    ]


def find_anomaly(
    api: Api, service: str, metric: str, since: float, min_severity: str = "warning"
) -> dict[str, Any] | None:
    for anomaly in api.anomalies(service=service, metric=metric, severity=min_severity):
        if anomaly["opened_at"] >= since - 1:
            return anomaly
    return None


def find_action(
    api: Api, service: str, action: str, since: float, outcome: str | None = "succeeded"
) -> dict[str, Any] | None:
    for record in api.actions(service=service, action=action, since=since):
        if record["created_at"] >= since and (outcome is None or record["outcome"] == outcome):
            return record
    return None


def wait_for(api: Api, service: str, since: float, what: str, probe: Any, timeout: float) -> Any:
    """wait_until, and on timeout say what the platform did about the service meanwhile."""
    try:
        return wait_until(what, probe, timeout, 1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n  {service}: {api.explain(service, since)}") from None


def restarts_of(api: Api, service: str, since: float) -> list[dict[str, Any]]:
    """Restarts Docker carried out on `service` since a time (for wrong-target counts)."""
    return [
        a
        for a in api.actions(service=service, action="restart_container", since=since)
        if a["outcome"] == "succeeded" and a["created_at"] >= since
    ]


def victim_triage(api: Api, victim: str, culprit: str, metric: str, since: float) -> dict[str, Any]:
    """The victim's anomaly opened by the culprit's fault, and its triage packet naming it."""
    anomaly = wait_until(
        f"a {metric} anomaly on {victim} attributed to {culprit}",
        lambda: next(
            (
                a
                for a in api.anomalies(service=victim, metric=metric)
                if a["opened_at"] >= since - 1 and culprit in a["caused_by"]
            ),
            None,
        ),
        90,
        1,
    )
    packet: dict[str, Any] = api.get(ANOMALY + f"/anomalies/{anomaly['id']}/triage")
    assert packet["suspected_cause"]["caused_by"] == [culprit], packet["suspected_cause"]
    assert packet["suspected_cause"]["evidence"], packet["suspected_cause"]
    return packet


def wait_fault_gone(api: Api, service: str) -> None:
    wait_until(
        f"{service} to have no active fault",
        lambda: api.get({"orders": "http://127.0.0.1:8001", "users": "http://127.0.0.1:8002",
                         "payments": "http://127.0.0.1:8003"}[service] + "/chaos")["faults"] == [],
        timeout_s=30,
    )  # fmt: skip


def wait_cooldowns_over(api: Api, policy: str, timeout_s: float = 330.0) -> None:
    """Until `policy` is held back by no cooldown, its own or another policy's on the same
    target (one restart per target per window: an earlier scenario's restart counts)."""

    def free() -> bool:
        items = api.get(POLICY + "/policies")["items"]
        view = next(p for p in items if p["name"] == policy)
        return bool(view["cooldown_remaining_s"] == 0 and view["target_cooldown_remaining_s"] == 0)

    wait_until(f"{policy} to be out of every cooldown", free, timeout_s, 2)


# ---- verdicts given what the host delivered -------------------------------------------------


WARM_METRICS = ("latency", "error_rate", "cpu", "request_rate")


def warm_series(api: Api) -> set[tuple[str, str]]:
    """(service, metric) of every series the anomaly service judges (past its warm-up)."""
    return warm_of(api.get(ANOMALY + "/predict")["series"])


def warm_of(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(service, metric) of the `/predict` rows past their warm-up."""
    return {(s["service"], s["metric"]) for s in rows if not s.get("warming_up")}


def wait_baselines_warm(api: Api, timeout_s: float = 480.0) -> None:
    """Until the signals the scenarios fault are past warm-up on every service (verdicts are
    held at normal before; latency warms later than memory, as it needs requests). On timeout
    the message says which series were still cold and why they might be (their last rows, the
    Prometheus targets' health, the traffic's outcome), since CI shows only its tail."""
    wanted = {(s, m) for s in ("orders", "users", "payments") for m in WARM_METRICS}

    def warmed_up() -> bool:
        return wanted <= warm_series(api)

    try:
        wait_until("baselines to warm up", warmed_up, timeout_s, 5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cold_series_report(api, wanted)}") from None


def cold_series_report(api: Api, wanted: set[tuple[str, str]]) -> str:
    """What the anomaly service and Prometheus say about the series still warming up."""
    lines = []
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        rows = api.get(ANOMALY + "/predict")["series"]
        cold = sorted(wanted - warm_of(rows))
        lines.append(f"still warming: {cold}")
        for row in rows:
            if (row["service"], row["metric"]) in cold:
                keep = ("service", "metric", "value", "warming_up", "missing_cycles", "ts")
                lines.append(f"  {dict((k, row.get(k)) for k in keep)}")
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        targets = api.get(PROMETHEUS + "/api/v1/targets")["data"]["activeTargets"]
        lines.append("prometheus targets: " + "; ".join(
            f"{t['labels'].get('job')}/{t['labels'].get('instance')}={t['health']}"
            f"{' (' + t['lastError'] + ')' if t.get('lastError') else ''}"
            for t in targets
        ))  # fmt: skip
    return "\n".join(lines)


def signal_left_its_band(api: Api, anomaly: dict[str, Any]) -> str | None:
    """Read the anomaly's signal back from Prometheus, independently of the anomaly service, over
    the cycles before it opened; None when no point lay outside the band the anomaly reports
    and the signal did not stay beyond its floor/SLO for the 30 s before (a sustained breach:
    docs/detector.md) -- the detector then raised it on a signal that did not deviate --,
    else what was seen."""
    detail = api.get(ANOMALY + f"/anomalies/{anomaly['id']}")
    spec = next(
        (m for m in api.get(ANOMALY + "/models")["catalog"] if m["name"] == anomaly["metric"]), None
    )
    evidence = detail.get("evidence") or {}
    if spec is None or not evidence.get("timestamps"):
        return None
    opened = float(anomaly["opened_at"])
    series = api.get(
        PROMETHEUS + "/api/v1/query_range", query=spec["query"], start=opened - 30,
        end=opened + 5, step=5,
    )["data"]["result"]  # fmt: skip
    values = next(
        ([(float(t), float(v)) for t, v in s["values"]] for s in series
         if s["metric"].get("service") == anomaly["service"]),
        [],
    )  # fmt: skip
    stamps = evidence["timestamps"]
    for at, value in values:
        i = min(range(len(stamps)), key=lambda k: abs(stamps[k] - at))
        lower, upper = evidence["lower"][i], evidence["upper"][i]
        above = spec["direction"] in ("up", "both") and upper is not None and value > upper
        below = spec["direction"] in ("down", "both") and lower is not None and value < lower
        if above or below:
            return f"{value:.4g} outside [{lower:.4g}, {upper:.4g}] at {at - opened:+.0f}s"
    return beyond_floor_throughout(spec, [(at, v) for at, v in values if at <= opened], opened)


def beyond_floor_throughout(
    spec: dict[str, Any], values: list[tuple[float, float]], opened: float
) -> str | None:
    """What was seen when every point of the 30 s before `opened` lay beyond the floor."""
    floor, direction = spec.get("floor"), spec["direction"]
    if floor is None or direction not in ("up", "down") or len(values) < 6:
        return None
    last = [v for _, v in values[-6:]]
    if not all(v >= floor if direction == "up" else v <= floor for v in last):
        return None
    low, high = min(last), max(last)
    return f"{low:.4g}-{high:.4g} beyond the floor {floor:.4g} for 30 s before {opened:.0f}"


CPU_QUERY = 'avg(rate(process_cpu_seconds_total{{job="services",service="{service}"}}[15s]))'


def cpu_hold(api: Api, service: str, start: float, end: float, above: float) -> tuple[float, float]:
    """What the host gave `service` between two times, read from Prometheus at the 5 s scrape:
    the longest time its CPU stayed above `above` cores, and its peak."""
    rows = api.get(
        PROMETHEUS + "/api/v1/query_range", query=CPU_QUERY.format(service=service),
        start=start, end=end, step=5,
    )["data"]["result"]  # fmt: skip
    points = [(float(t), float(v)) for t, v in rows[0]["values"]] if rows else []
    longest, run_start = 0.0, None
    for at, value in points:
        if value > above:
            run_start = at if run_start is None else run_start
            longest = max(longest, at - run_start)
        else:
            run_start = None
    return longest, max((v for _, v in points), default=float("nan"))
