"""Real processes behind the dashboard for browser tests: demo-like exporters the test controls,
a real Prometheus scraping them, the real anomaly service and policy engine, and the dashboard."""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.support.containers import compose_replica_labels
from tests.support.procs import Proc, free_port, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

TOKEN = "browser-test-token-7f3a9c1e5b"

POLICIES = """\
settings:
  budgets:
    per_service: {max: 6, window: 1h}
policies:
  - name: orders_high_latency_restart
    condition: "latency > 0.5 and severity >= warning"
    action: restart_container
    service: orders
    cooldown: 300
    budget: {max: 3, window: 1h}
  - name: users_high_latency_restart
    condition: "latency > 0.5 and severity >= warning"
    action: restart_container
    service: users
    cooldown: 300
    budget: {max: 3, window: 1h}
  - name: users_errors_scale_up
    condition: "error_rate > 0.2"
    action: scale_up
    service: users
    cooldown: 120
    enabled: false
"""


class ServiceExporter:
    """Serves the metrics a demo service exports, from simulated traffic the test can slow."""

    def __init__(self, rps: float = 20.0) -> None:
        self.registry = CollectorRegistry()
        self.latency_s = 0.02
        self.rps = rps
        self.port = free_port()
        self.histogram = Histogram(
            "http_server_request_duration_seconds",
            "Request duration",
            ["method", "route", "status_code"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0),
        )
        self.cpu = Counter("process_cpu_seconds", "CPU seconds", registry=self.registry)
        self.memory = Gauge("process_resident_memory_bytes", "RSS", registry=self.registry)
        self.memory.set(60 * 1024 * 1024)
        self._stop = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _traffic(self) -> None:
        rng = random.Random(7)
        while not self._stop.wait(0.1):
            for _ in range(max(1, int(self.rps * 0.1))):
                value = self.latency_s * rng.uniform(0.8, 1.2)
                self.histogram.labels("GET", "/orders", "200").observe(value)
            self.cpu.inc(0.003 * rng.uniform(0.8, 1.2))
            self.memory.set(60 * 1024 * 1024 + rng.randint(0, 512 * 1024))

    def start(self) -> ServiceExporter:
        self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._thread = threading.Thread(target=self._traffic, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class Stack:
    workdir: Path
    # Compose project the policy engine may touch: unique, so no real container is ever eligible
    # except the ones these tests create with this prefix.
    project: str = field(default_factory=lambda: f"relia-dashbrowser-{uuid.uuid4().hex[:8]}")
    exporters: dict[str, ServiceExporter] = field(default_factory=dict)
    prometheus: PrometheusServer | None = None
    anomaly: Proc | None = None
    policy: Proc | None = None
    dashboard: Proc | None = None
    policies_file: Path | None = None

    def start(self) -> Stack:
        for name in ("orders", "users"):
            self.exporters[name] = ServiceExporter().start()
        self.prometheus = PrometheusServer(
            self.workdir,
            [
                ScrapeTarget("services", e.address, {"service": n})
                for n, e in self.exporters.items()
            ],
            scrape_interval="1s",
        ).start()
        self.prometheus.wait_for_targets_up(len(self.exporters))
        self.policies_file = self.workdir / "policies.yml"
        self.policies_file.write_text(POLICIES)
        state_dir = self.workdir / "policy-state"
        state_dir.mkdir()
        anomaly_port, policy_port = free_port(), free_port()
        self.policy = start_module(
            "policy_engine",
            self.workdir,
            port=policy_port,
            env={
                "POLICIES_FILE": str(self.policies_file),
                "STATE_DIR": str(state_dir),
                "DRY_RUN": "true",
                "POLICY_ENGINE_TOKEN": TOKEN,
                "CHECK_INTERVAL": "1",
                "ANOMALY_SERVICE_URL": f"http://127.0.0.1:{anomaly_port}",
                "COMPOSE_PROJECT": self.project,
                "GRACE_PERIOD_S": "0",
            },
            timeout_s=60,
        )
        self.anomaly = start_module(
            "anomaly_service",
            self.workdir,
            port=anomaly_port,
            env={
                "PROMETHEUS_URL": self.prometheus.url,
                "POLICY_ENGINE_URL": self.policy.url,
                "POLICY_ENGINE_TOKEN": TOKEN,
                "CHECK_INTERVAL": "1",
                "BACKFILL_WINDOW_S": "0",
                "DETECTOR_CONFIG": '{"min_points": 8}',
            },
            timeout_s=60,
        )
        self.dashboard = start_module(
            "dashboard",
            self.workdir,
            env={
                "ANOMALY_SERVICE_URL": self.anomaly.url,
                "POLICY_ENGINE_URL": self.policy.url,
                "POLICY_ENGINE_TOKEN": TOKEN,
                "POLL_INTERVAL_S": "1",
                "STALE_AFTER_S": "10",
                "GRAFANA_URL": "http://127.0.0.1:3001",
                "JAEGER_URL": "http://127.0.0.1:16686",
                "PROMETHEUS_URL": self.prometheus.url,
            },
            timeout_s=60,
        )
        return self

    def stop(self) -> None:
        for proc in (self.dashboard, self.anomaly, self.policy):
            if proc is not None:
                proc.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        for exporter in self.exporters.values():
            exporter.stop()

    def logs(self) -> str:
        parts = []
        for proc in (self.dashboard, self.anomaly, self.policy):
            if proc is not None:
                parts.append(f"--- {proc.module}\n{proc.log_text()[-3000:]}")
        return "\n".join(parts)

    # ---- backend APIs, as the test's ground truth ----
    def anomaly_get(self, path: str, **params: Any) -> Any:
        assert self.anomaly is not None
        response = httpx.get(self.anomaly.url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def wait_warm(self, service: str, metric: str, timeout_s: float = 90) -> None:
        """Until the anomaly service judges `service`'s `metric` (past its warm-up)."""
        wait_for(
            lambda: any(
                s["metric"] == metric and s["service"] == service and not s["warming_up"]
                for s in self.anomaly_get("/predict")["series"]
            ),
            timeout_s,
            f"a warm {metric} baseline for {service}",
        )

    def policy_get(self, path: str, **params: Any) -> Any:
        assert self.policy is not None
        response = httpx.get(self.policy.url + path, params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def post_alert(self, service: str, metric: str, value: float, anomaly_id: str) -> Any:
        """A firing Alertmanager-v4 notification, as the anomaly service would send it."""
        assert self.policy is not None
        fingerprint = f"{abs(hash(anomaly_id)):016x}"[:16]
        labels = {
            "alertname": "ReliaAnomaly",
            "service": service,
            "metric": metric,
            "severity": "critical",
            "kind": "deviation",
            "anomaly_id": anomaly_id,
        }
        body = {
            "version": "4",
            "groupKey": f"relia:{fingerprint}",
            "status": "firing",
            "receiver": "relia-policy-engine",
            "groupLabels": {"alertname": "ReliaAnomaly"},
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://test",
            "truncatedAlerts": 0,
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": {
                        "value": str(value),
                        "baseline": "0.02",
                        "unit": "seconds",
                        "summary": f"{service} {metric} test alert",
                    },
                    "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://test",
                    "fingerprint": fingerprint,
                }
            ],
        }
        response = httpx.post(
            self.policy.url + "/alerts",
            json=body,
            timeout=5,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        response.raise_for_status()
        return response.json()


BASE_IMAGE = "python:3.11-slim-bookworm"  # the stand-in base image every component builds on


def start_labelled_container(project: str, service: str) -> str:
    """A running container that looks like replica 1 of a compose service, opted in to
    remediation; the dry-run engine lists it as a target and never touches it."""
    name = f"{project}-{service}-1"
    labels = compose_replica_labels(project, service)
    args = ["docker", "run", "-d", "--name", name, "--network", "none"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    subprocess.run([*args, BASE_IMAGE, "sleep", "900"], check=True, capture_output=True, timeout=60)
    return name


def remove_container(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def wait_for(check: Any, timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """Poll `check()` until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError, IndexError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not seen within {timeout_s}s (last: {last!r})")
