"""Any PromQL backend: the anomaly service (a real process) sends the configured tenant and auth
headers on every query, through a tiny header-checking proxy in front of a real Prometheus, the
way Mimir/Cortex (X-Scope-OrgID) or an authenticating Thanos/VictoriaMetrics front would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from anomaly_it_support import GaugeExporter, get, poll
from test_anomaly_service_prometheus import LEVEL, service_env, write_catalog

from tests.support.procs import Proc, free_port, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

TENANT, TOKEN = "tenant-42", "s3cret-token"


class CheckingProxy:
    """Forwards to Prometheus only requests with the tenant and bearer headers; 401 otherwise.
    Records (path, tenant, authorization) of every request."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[tuple[str, str | None, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tenant, auth = self.headers.get("X-Scope-OrgID"), self.headers.get("Authorization")
                proxy.seen.append((self.path, tenant, auth))
                if tenant != TENANT or auth != f"Bearer {TOKEN}":
                    status, body = 401, b'{"status":"error","error":"no tenant or token"}'
                else:
                    answer = httpx.get(upstream + self.path, timeout=5)
                    status, body = answer.status_code, answer.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[CheckingProxy]:
    exporter = GaugeExporter(10.0)
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prometheus = PrometheusServer(tmp_path, [target], scrape_interval="1s").start()
    front = CheckingProxy(prometheus.url)
    try:
        prometheus.wait_for_targets_up(1, timeout_s=60)
        yield front
    finally:
        front.stop()
        prometheus.stop()
        exporter.stop()


def test_tenant_and_bearer_headers_reach_the_promql_backend(
    tmp_path: Path, proxy: CheckingProxy
) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL)
    env = service_env(
        proxy.url,
        catalog,
        PROMETHEUS_HEADERS=f'{{"X-Scope-OrgID": "{TENANT}"}}',
        PROMETHEUS_BEARER_TOKEN=TOKEN,
    )
    svc: Proc = start_module("anomaly_service", tmp_path, env, timeout_s=60)
    try:
        poll("/ready", lambda: httpx.get(svc.url + "/ready", timeout=5).status_code == 200, 60)
        poll(
            "a level series",
            lambda: any(s["metric"] == "level" for s in get(svc.url + "/predict")["series"]),
            60,
        )
        queries = [s for s in proxy.seen if s[0].startswith("/api/v1/query")]
        assert queries, proxy.seen
        assert all(s[1:] == (TENANT, f"Bearer {TOKEN}") for s in proxy.seen), proxy.seen
        # the token is a secret: not in what the service shows, nor in its log
        for path in ("/stats", "/models", "/ready"):
            assert TOKEN not in httpx.get(svc.url + path, timeout=5).text
        assert TOKEN not in svc.log_path.read_text(errors="replace")
    finally:
        svc.stop()


def test_without_the_headers_the_backend_refuses_and_the_service_says_not_ready(
    tmp_path: Path, proxy: CheckingProxy
) -> None:
    catalog = write_catalog(tmp_path / "catalog.yml", LEVEL)
    svc = start_module("anomaly_service", tmp_path, service_env(proxy.url, catalog), timeout_s=60)
    try:
        poll("a cycle", lambda: get(svc.url + "/stats")["cycle"] >= 2, 30)
        ready = httpx.get(svc.url + "/ready", timeout=5)
        assert ready.status_code == 503, ready.text
        assert ready.json()["reasons"], ready.text
        assert proxy.seen
        assert all(s[1] is None for s in proxy.seen)
    finally:
        svc.stop()
