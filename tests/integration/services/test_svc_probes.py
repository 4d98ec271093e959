"""The shipped synthetic probes, for real: Debian's blackbox exporter with
monitoring/blackbox/blackbox.yml, a real Prometheus with the shipped `probes` job, the three
services as processes. A hung users (health still answers) fails its probe within two intervals."""

from __future__ import annotations

import copy
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from anomaly_service.catalog import load_catalog
from anomaly_service.config import DEFAULT_CATALOG
from tests.support.procs import Proc, demo_services, free_port, wait_http_ok
from tests.support.prometheus import PrometheusServer
from tests.support.requirements import BLACKBOX_EXPORTER

REPO = Path(__file__).resolve().parents[3]
BLACKBOX_CONFIG = REPO / "monitoring" / "blackbox" / "blackbox.yml"
PROMETHEUS_CONFIG = REPO / "monitoring" / "prometheus" / "prometheus.yml"
INTERVAL_S = 5.0  # the stack's scrape interval, so "two intervals" means what it says


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, Proc]]:
    with demo_services(tmp_path) as procs:
        yield procs


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which(BLACKBOX_EXPORTER)
    assert binary is not None
    port = free_port()
    log = (tmp_path / "blackbox.log").open("ab")
    popen = subprocess.Popen(
        [binary, f"--config.file={BLACKBOX_CONFIG}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/-/healthy", 15.0, popen)
        yield f"127.0.0.1:{port}"
    finally:
        popen.terminate()
        popen.wait(timeout=10)


def probes_job(services: dict[str, Proc], exporter: str) -> dict[str, Any]:
    """The shipped job, with compose DNS names swapped for the local processes' addresses."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    job = copy.deepcopy(next(j for j in config["scrape_configs"] if j["job_name"] == "probes"))
    for group in job["static_configs"]:
        name = group["labels"]["service"]
        group["targets"] = [
            t.replace(f"http://{name}:8000", services[name].url) for t in group["targets"]
        ]
    for rule in job["relabel_configs"]:
        if rule.get("target_label") == "__address__":
            assert rule["replacement"] == "blackbox:9115"
            rule["replacement"] = exporter
    job["scrape_interval"] = f"{INTERVAL_S:g}s"
    job["scrape_timeout"] = config["global"]["scrape_timeout"]
    return job


@pytest.mark.blackbox
def test_shipped_config_passes_the_exporters_own_check() -> None:
    binary = shutil.which(BLACKBOX_EXPORTER)
    assert binary is not None
    out = subprocess.run(
        [binary, "--config.check", f"--config.file={BLACKBOX_CONFIG}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _by_service(prom: PrometheusServer, query: str) -> dict[str, float]:
    return {r["metric"]["service"]: float(r["value"][1]) for r in prom.query(query)}


def _success(prom: PrometheusServer) -> dict[str, float]:
    return _by_service(prom, 'probe_success{job="probes"}')


UNANSWERED = next(m.query for m in load_catalog(DEFAULT_CATALOG) if m.name == "probe_unanswered")


@pytest.mark.prometheus
@pytest.mark.blackbox
def test_a_hang_fails_the_probe_within_two_intervals(
    services: dict[str, Proc], exporter: str, tmp_path: Path
) -> None:
    job = probes_job(services, exporter)
    prom = PrometheusServer(tmp_path, [], extra_config={"scrape_configs": [job]}).start()
    try:
        deadline = time.monotonic() + 4 * INTERVAL_S
        healthy: dict[str, float] = {}
        while time.monotonic() < deadline and healthy != dict.fromkeys(services, 1.0):
            time.sleep(0.5)
            healthy = _success(prom)
        # Each probe hits its domain endpoint, and every one passes while nothing is wrong.
        assert healthy == {"orders": 1.0, "users": 1.0, "payments": 1.0}, healthy

        # An error fault fails the probe with an answer: probe_unanswered stays 0 (the hang
        # policies must not take an erroring service for a hung one).
        errors = {"kind": "errors", "rate": 1.0}
        assert httpx.post(services["payments"].url + "/chaos", json=errors).status_code == 201
        deadline = time.monotonic() + 2 * INTERVAL_S + 3
        while time.monotonic() < deadline and _success(prom).get("payments") != 0.0:
            time.sleep(0.25)
        assert _success(prom)["payments"] == 0.0
        assert _by_service(prom, UNANSWERED)["payments"] == 0.0
        httpx.delete(services["payments"].url + "/chaos", timeout=5)
        deadline = time.monotonic() + 2 * INTERVAL_S + 3
        while time.monotonic() < deadline and _success(prom).get("payments") != 1.0:
            time.sleep(0.25)

        hang = httpx.post(services["users"].url + "/chaos", json={"kind": "hang"}, timeout=5)
        assert hang.status_code == 201
        injected = time.monotonic()
        failed: dict[str, float] = healthy
        while time.monotonic() - injected < 2 * INTERVAL_S + 3 and failed.get("users") != 0.0:
            time.sleep(0.25)
            failed = _success(prom)
        took = time.monotonic() - injected
        print(f"users' probe failed {took:.1f}s after the hang; probe_success {failed}")
        assert failed.get("users") == 0.0, failed
        # Health still answers: /health alone would have called the hung service fine.
        assert httpx.get(services["users"].url + "/health", timeout=5).status_code == 200
        # Each probe judges its own service: orders' probe (a list, no call to users) and
        # payments' stay up, so the probe names the hung service, not its callers.
        assert failed["orders"] == 1.0, failed
        assert failed["payments"] == 1.0, failed
        # The catalog's probe_unanswered (what the hang policies read) says it too.
        assert _by_service(prom, UNANSWERED) == {"orders": 0.0, "users": 1.0, "payments": 0.0}
        httpx.delete(services["users"].url + "/chaos", timeout=5)
    finally:
        prom.stop()
