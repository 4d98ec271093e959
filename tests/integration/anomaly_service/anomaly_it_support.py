"""Test-controlled HTTP parts for the anomaly service's integration tests (127.0.0.1 only)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import Proc, start_module
from tests.support.prometheus import PrometheusServer, ScrapeTarget


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.running = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.running = False


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Exporter(_Server):
    """Serves `exposition()` on every GET, in Prometheus' text format."""

    def __init__(self) -> None:
        class Handler(_Quiet):
            def do_GET(self) -> None:
                owner: _Exporter = self.server.owner  # type: ignore[attr-defined]
                body = owner.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    def exposition(self) -> str:
        raise NotImplementedError


class GaugeExporter(_Exporter):
    """Serves `relia_it_value <value>` on /metrics; the test sets the value."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.scrapes = 0
        super().__init__()

    def exposition(self) -> str:
        self.scrapes += 1
        # A tiny deterministic wiggle so the baseline has a spread, like real signals.
        wiggle = 0.1 if self.scrapes % 2 else -0.1
        return f"# TYPE relia_it_value gauge\nrelia_it_value {self.value + wiggle}\n"


REQUEST_DURATION = "http_server_request_duration_seconds"
DURATION_BUCKETS = ("0.05", "0.1", "0.5", "0.6", "1.0", "+Inf")
FAST_S, SLOW_S = 0.02, 0.55  # what a fast and a slow request take


class HistogramExporter(_Exporter):
    """One service's request-duration histogram: fast requests (< 50 ms) at a steady rate, and
    slow ones (0.5-0.6 s) when the test adds them."""

    def __init__(self, fast_per_s: float = 5.0) -> None:
        self.fast_per_s = fast_per_s
        self.started = time.monotonic()
        self.slow = 0
        self.lock = threading.Lock()
        super().__init__()

    def add_slow(self, n: int) -> None:
        with self.lock:
            self.slow += n

    def exposition(self) -> str:
        fast = int(self.fast_per_s * (time.monotonic() - self.started))
        with self.lock:
            slow = self.slow
        lines = [f"# TYPE {REQUEST_DURATION} histogram"]
        for le in DURATION_BUCKETS:
            count = fast + (slow if float(le) >= SLOW_S else 0)
            lines.append(f'{REQUEST_DURATION}_bucket{{le="{le}"}} {count}')
        lines.append(f"{REQUEST_DURATION}_count {fast + slow}")
        lines.append(f"{REQUEST_DURATION}_sum {fast * FAST_S + slow * SLOW_S}")
        return "\n".join(lines) + "\n"


class StatusExporter(_Exporter):
    """One service's request counts by status code (the histogram's `_count`, untyped): 200s at
    a steady rate, 500s when the test adds them. Both series exist from the start, unless
    `errors_from_start` is false: then the 500 series appears with the first error, as a
    labelled counter of a real service does."""

    def __init__(
        self,
        ok_per_s: float,
        errors_from_start: bool = True,
        histogram: str = REQUEST_DURATION,
        labels: str = "",
    ) -> None:
        self.ok_per_s = ok_per_s
        self.errors_from_start = errors_from_start
        # e.g. the client histogram and 'peer_service="users",' for one call edge
        self.histogram, self.labels = histogram, labels
        self.started = time.monotonic()
        self.errors = 0
        self.lock = threading.Lock()
        super().__init__()

    def add_errors(self, n: int) -> None:
        with self.lock:
            self.errors += n

    def exposition(self) -> str:
        ok = int(self.ok_per_s * (time.monotonic() - self.started))
        with self.lock:
            errors = self.errors
        name, labels = f"{self.histogram}_count", self.labels
        text = f'{name}{{{labels}status_code="200"}} {ok}\n'
        if errors or self.errors_from_start:
            text += f'{name}{{{labels}status_code="500"}} {errors}\n'
        return text


class AlertReceiver(_Server):
    """Records every POST /alerts body and its Authorization header."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.lock = threading.Lock()

        class Handler(_Quiet):
            def do_POST(self) -> None:
                owner: AlertReceiver = self.server.owner  # type: ignore[attr-defined]
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status = 404
                if self.path == "/alerts":
                    with owner.lock:
                        owner.received.append((json.loads(raw), self.headers.get("Authorization")))
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p, _ in self.received]


def poll(what: str, fn: Callable[[], Any], timeout_s: float, every_s: float = 0.5) -> Any:
    """Call fn until it returns something truthy; fail with `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except httpx.HTTPError as exc:
            last = repr(exc)
        else:
            if last:
                return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {last!r}")


def by_service(prom: PrometheusServer, query: str, at: float) -> dict[str, float]:
    """An instant query's value per `service` label at `at`."""
    resp = httpx.get(f"{prom.url}/api/v1/query", params={"query": query, "time": at}, timeout=10)
    body: dict[str, Any] = resp.json()
    assert body["status"] == "success", body
    return {r["metric"]["service"]: float(r["value"][1]) for r in body["data"]["result"]}


def get(url: str) -> Any:
    return httpx.get(url, timeout=5.0).json()


class Load:
    """Bounded traffic (~20 req/s spread over the URLs; GET, or POST of `json`) until stopped,
    capped in count and time. A URL that does not answer (its service stopped) is skipped
    quickly."""

    def __init__(
        self,
        urls: list[str],
        max_requests: int = 6000,
        max_seconds: float = 240.0,
        json: Any = None,
    ):
        self.urls, self.max_requests, self.json = urls, max_requests, json
        self.deadline = time.monotonic() + max_seconds
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while (
                not self.stop.is_set()
                and self.sent < self.max_requests
                and time.monotonic() < self.deadline
            ):
                url = self.urls[self.sent % len(self.urls)]
                self.sent += 1
                with contextlib.suppress(httpx.HTTPError):
                    if self.json is None:
                        client.get(url)
                    else:
                        client.post(url, json=self.json)
                time.sleep(0.05)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)


@contextlib.contextmanager
def watched(
    tmp_path: Path, targets: list[ScrapeTarget]
) -> Iterator[tuple[PrometheusServer, AlertReceiver, Proc]]:
    """A real Prometheus scraping `targets` every second and the anomaly service on it as a
    process (1 s cycles, warm after 10 points), sending its events to a local receiver; all
    stopped on exit."""
    prom = PrometheusServer(tmp_path, targets, scrape_interval="1s").start()
    receiver = AlertReceiver()
    svc: Proc | None = None
    try:
        prom.wait_for_targets_up(len(targets), timeout_s=60)
        env = {
            "PROMETHEUS_URL": prom.url,
            "CHECK_INTERVAL": "1",
            "BACKFILL_WINDOW_S": "0",
            "POLICY_ENGINE_URL": receiver.url,
            "DETECTOR_CONFIG": json.dumps({"min_points": 10}),
        }
        svc = start_module("anomaly_service", tmp_path, env=env, timeout_s=60)
        yield prom, receiver, svc
    finally:
        if svc is not None:
            svc.stop()
        receiver.stop()
        prom.stop()
