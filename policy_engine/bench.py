"""Benchmark: from an alert arriving at POST /alerts to the Docker actuator's restart returning.

    python -m policy_engine.bench [--runs 20] [--image python:3.11-slim-bookworm]

Starts one throwaway container labelled like an opted-in compose replica (project
`relia-pebench-<pid>`, removed at the end), a real `python -m policy_engine` process on 127.0.0.1
with a restart policy for it, then POSTs `--runs` distinct firing alerts one after another and
reads each action record. Prints the server-side figure (trigger.received_at -> finished_at), the
actuator's own restart duration, the engine's overhead (their difference), and the client's
POST -> record-visible time. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import httpx

SLEEPER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "while True: time.sleep(1)\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alert(i: int, service: str) -> dict[str, Any]:
    labels = {
        "alertname": "ReliaAnomaly",
        "service": service,
        "metric": "latency",
        "severity": "critical",
        "kind": "deviation",
        "anomaly_id": f"a-bench-{i}",
    }
    return {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"value": "2.0"},
                "startsAt": f"2026-01-01T00:00:{i:02d}Z",
                "fingerprint": f"bench{os.getpid()}-{i}",
            }
        ],
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy_engine.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--image", default="python:3.11-slim-bookworm")
    parser.add_argument("--timeout", type=float, default=60.0, help="per run, seconds")
    args = parser.parse_args(argv)
    runs = max(1, min(args.runs, 200))

    project = f"relia-pebench-{os.getpid()}"
    service = "benchsvc"
    client = docker.from_env(timeout=30)
    container = client.containers.run(
        args.image,
        ["python", "-c", SLEEPER],
        detach=True,
        init=True,  # tini as PID 1: SIGTERM stops it at once, even mid-start-up
        name=f"{project}-{service}-1",
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
            "relia.remediation": "enabled",
        },
    )
    workdir = Path(tempfile.mkdtemp(prefix="pebench-"))
    policies = workdir / "policies.yml"
    policies.write_text(f"""
settings: {{budgets: {{per_service: null, global: null}}, grace_period: 0,
           verification_window: 1h}}
policies:
  - {{name: bench_restart, condition: "latency > 0.5", action: restart_container,
     service: {service}, cooldown: 0, params: {{stop_timeout: 5s}}}}
""")
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "POLICIES_FILE": str(policies),
        "STATE_DIR": str(workdir / "state"),
        "COMPOSE_PROJECT": project,
        "CHECK_INTERVAL": "5",
        "DOCKER_TIMEOUT_S": "60",
    }
    log = (workdir / "engine.log").open("wb")
    engine = subprocess.Popen(
        [sys.executable, "-m", "policy_engine"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    server_ms: list[float] = []
    actuator_ms: list[float] = []
    client_ms: list[float] = []
    failures = 0
    try:
        _wait_healthy(base, workdir / "engine.log")
        with httpx.Client(base_url=base, timeout=10) as http:
            for i in range(runs):
                sent = time.perf_counter()
                answer = http.post("/alerts", json=_alert(i, service)).json()
                record = _settled(http, answer["scheduled"][0]["id"], args.timeout)
                seen = time.perf_counter()
                if record is None or record["outcome"] != "succeeded":
                    failures += 1
                    print(f"run {i}: {record and record['outcome']} {record and record['error']}")
                    continue
                server_ms.append((record["finished_at"] - record["trigger"]["received_at"]) * 1000)
                actuator_ms.append(record["duration_ms"])
                client_ms.append((seen - sent) * 1000)
    finally:
        engine.terminate()
        try:
            engine.wait(timeout=15)
        except subprocess.TimeoutExpired:
            engine.kill()
        log.close()
        container.remove(force=True)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"policy engine: alert -> restart returned, {len(server_ms)}/{runs} runs "
        f"({failures} failed), image {args.image}"
    )
    if not server_ms:
        return 1
    _report(server_ms, actuator_ms, client_ms)
    return 0 if failures == 0 else 1


def _wait_healthy(base: str, log_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"engine did not start; see {log_file}")


def _settled(http: httpx.Client, action_id: str, timeout_s: float) -> dict[str, Any] | None:
    """The action record once no longer `pending` (it exists at once, `pending` until the
    restart has finished); None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = http.get(f"/actions/{action_id}")
        if response.status_code == 200 and response.json()["outcome"] != "pending":
            record: dict[str, Any] = response.json()
            return record
        time.sleep(0.01)
    return None


def _report(server_ms: list[float], actuator_ms: list[float], client_ms: list[float]) -> None:
    overhead = [s - a for s, a in zip(server_ms, actuator_ms, strict=True)]
    for label, values in (
        ("server: POST /alerts received -> actuator returned", server_ms),
        ("actuator: docker restart (stop+start+running)", actuator_ms),
        ("engine overhead (server - actuator)", overhead),
        ("client: POST sent -> action record settled", client_ms),
    ):
        print(
            f"  {label:52s} median {statistics.median(values):8.1f} ms   "
            f"p90 {_pct(values, 0.9):8.1f} ms   min {min(values):8.1f}   max {max(values):8.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())
