"""Helpers for the policy engine's process tests: a webhook receiver and an engine launcher."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.support.containers import compose_replica_labels
from tests.support.procs import Proc, free_port

TOKEN = "integration-token"
RELAY = Path(__file__).resolve().parents[2] / "fixtures" / "compose_project" / "unix_relay.py"
DOCKER_SOCK = "/var/run/docker.sock"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class _LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with a free port, stopped by close()."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver(_LoopbackServer):
    """A real HTTP webhook receiver on 127.0.0.1 that records every JSON body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return None

        self._serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _answer(handler: BaseHTTPRequestHandler, data: bytes, content_type: str) -> None:
    handler.send_response(200)
    handler.send_header("content-type", content_type)
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class PredictServer(_LoopbackServer):
    """Serves GET /predict like the anomaly service, from a body the test sets (None -> 503)."""

    def __init__(self) -> None:
        self.body: dict[str, Any] | None = {"series": []}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.body
                if self.path != "/predict" or body is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                _answer(self, json.dumps(body).encode(), "application/json")

            def log_message(self, *args: Any) -> None:
                return None

        self._serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def engine_env(tmp: Path, policies: Path, **extra: str) -> dict[str, str]:
    return {
        "POLICIES_FILE": str(policies),
        "STATE_DIR": str(tmp / "state"),
        "CHECK_INTERVAL": "0.3",
        "POLICY_ENGINE_TOKEN": TOKEN,
        # a project name no container carries: the Docker actuator can touch nothing here
        "COMPOSE_PROJECT": "relia-pe-itest-none",
        "DOCKER_TIMEOUT_S": "5",
        **extra,
    }


def start_engine(tmp: Path, policies: Path, port: int | None = None, **extra: str) -> Proc:
    port = port or free_port()
    proc = Proc(
        "policy_engine", port, tmp / f"engine-{port}.log", engine_env(tmp, policies, **extra)
    )
    return proc.start(timeout_s=30.0)


def wait_for(check: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy, within a deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise TimeoutError(f"{what} not met after {timeout_s}s (last: {last!r})")


def firing(
    fingerprint: str,
    service: str = "orders",
    metric: str = "latency",
    value: str = "0.9",
    status: str = "firing",
) -> dict[str, Any]:
    labels = {
        "alertname": "ReliaAnomaly",
        "service": service,
        "metric": metric,
        "severity": "warning",
        "kind": "deviation",
        "anomaly_id": f"a-{fingerprint}",
    }
    return {
        "version": "4",
        "groupKey": f"relia:{fingerprint}",
        "status": status,
        "receiver": "relia-policy-engine",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"value": value},
                "startsAt": "2026-11-21T19:40:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }


def actions(proc: Proc, **params: Any) -> dict[str, Any]:
    response = httpx.get(proc.url + "/actions", params={"limit": 500, **params}, timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class Relay:
    """`unix_relay.py` as a child process in front of the real daemon's socket: it prints each
    request it passed on (so a test can act while that call is in flight at the daemon); kill it
    to make 'the daemon' vanish."""

    def __init__(self, path: str, mode: str) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, str(RELAY), "--listen", path, "--target", DOCKER_SOCK, "--mode", mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if "ready" not in self.read_line(20.0):
            self.kill()
            raise AssertionError("relay did not start")

    def read_line(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        return self.proc.stdout.readline() if ready else ""

    def wait_for_request(self, fragment: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if fragment in self.read_line(max(0.1, deadline - time.monotonic())):
                return
        raise AssertionError(f"no request containing {fragment!r} went through the relay")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def restarts_between(container: Any, since: float, until: float) -> int:
    """Restarts of `container` the daemon reports (docker events), however they were asked."""
    client = docker.from_env(timeout=30)
    events = client.events(
        since=int(since), until=int(until) + 1, decode=True,
        filters={"container": container.id, "event": "restart"},
    )  # fmt: skip
    return sum(1 for _ in events)


class GaugeServer(_LoopbackServer):
    """A /metrics endpoint with one gauge the test sets: what a real alerting rule watches."""

    def __init__(self, name: str, value: float = 0.0) -> None:
        self.name = name
        self.value = value
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                text = f"# TYPE {owner.name} gauge\n{owner.name} {owner.value}\n"
                _answer(self, text.encode(), "text/plain; version=0.0.4")

            def log_message(self, *args: Any) -> None:
                return None

        self._serve(Handler)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


SLEEPER = (
    "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "while True: time.sleep(1)\n"
)


def opted_in_container(project: str, service: str = "svc") -> Any:
    """One running container of a fake compose project that opted in to remediation."""
    return docker.from_env(timeout=30).containers.run(
        "python:3.11-slim-bookworm",
        ["python", "-c", SLEEPER],
        detach=True,
        init=True,
        name=f"{project}-{service}-1",
        labels=compose_replica_labels(project, service),
    )


def settled(proc: Proc, action_id: str) -> dict[str, Any] | None:
    """The action record once it is no longer `pending`."""
    got = httpx.get(proc.url + f"/actions/{action_id}", timeout=5)
    if got.status_code != 200 or got.json()["outcome"] == "pending":
        return None
    body: dict[str, Any] = got.json()
    return body
