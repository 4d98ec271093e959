"""Instrumentation overhead: the same service with instrumentation on and off, N requests at
concurrency C over loopback; prints p50/p99 latency and requests/s for both.

Instrumentation = the metrics middleware, OpenTelemetry tracing (FastAPI server spans, no
exporter) and one JSON log line per request. The fault middleware is on in both runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import psutil

TARGETS = {
    "users": ("GET", "/users/u-7", None),
    "payments": (
        "POST",
        "/payments/authorize",
        {"order_id": "o-bench", "customer_id": "u-7", "amount": 42.0},
    ),
}


@dataclass
class RunResult:
    mode: str
    latencies: list[float]
    wall_s: float
    errors: int
    server_cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per request: steadier than latency when the machine is busy."""
        return self.server_cpu_s * 1000 / len(self.latencies) if self.latencies else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s > 0 else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
        return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(service: str, instrumented: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CHAOS_ENABLED": "false",
        "INSTRUMENTATION_ENABLED": "true" if instrumented else "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
        "MAX_IN_FLIGHT": "10000",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"services.{service} exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"services.{service} did not answer /health within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def drive(
    url: str, service: str, requests: int, concurrency: int
) -> tuple[list[float], float, int]:
    method, path, body = TARGETS[service]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    resp = await client.request(method, path, json=body)
                    ok = resp.status_code < 400
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, wall, errors


def run_mode(
    service: str, instrumented: bool, requests: int, concurrency: int, warmup: int
) -> RunResult:
    proc, url = start_service(service, instrumented)
    try:
        asyncio.run(drive(url, service, warmup, concurrency))
        server = psutil.Process(proc.pid)
        cpu0 = sum(server.cpu_times()[:2])
        latencies, wall, errors = asyncio.run(drive(url, service, requests, concurrency))
        cpu = sum(server.cpu_times()[:2]) - cpu0
    finally:
        stop(proc)
    return RunResult("on" if instrumented else "off", latencies, wall, errors, cpu)


def merge(results: list[RunResult]) -> RunResult:
    return RunResult(
        results[0].mode,
        [x for r in results for x in r.latencies],
        sum(r.wall_s for r in results),
        sum(r.errors for r in results),
        sum(r.server_cpu_s for r in results),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--service", choices=sorted(TARGETS), default="users")
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="alternating off/on runs per mode")
    args = parser.parse_args(argv)
    if not (1 <= args.requests <= 1_000_000 and 1 <= args.concurrency <= 1000):
        parser.error("--requests must be 1..1000000 and --concurrency 1..1000")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1..10")

    runs: dict[str, list[RunResult]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        for instrumented in (False, True):
            result = run_mode(
                args.service, instrumented, args.requests, args.concurrency, args.warmup
            )
            runs[result.mode].append(result)
            print(
                f"round {round_ + 1} instrumentation {result.mode:>3}: "
                f"{result.rps:8.1f} req/s  p50 {result.pct(0.5) * 1000:7.2f} ms  "
                f"p99 {result.pct(0.99) * 1000:7.2f} ms  "
                f"server CPU {result.cpu_ms_per_request:.3f} ms/req  errors {result.errors}",
                flush=True,
            )

    off, on = merge(runs["off"]), merge(runs["on"])
    print()
    print(
        f"service={args.service} requests={args.requests} concurrency={args.concurrency} "
        f"rounds={args.rounds} (loopback, one uvicorn worker)"
    )
    print(
        f"{'instrumentation':<16}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}"
        f"{'CPU ms/req':>12}{'errors':>8}"
    )
    for result in (off, on):
        print(
            f"{result.mode:<16}{result.pct(0.5) * 1000:>10.2f}{result.pct(0.99) * 1000:>10.2f}"
            f"{result.rps:>10.1f}{result.cpu_ms_per_request:>12.3f}{result.errors:>8}"
        )
    if off.rps > 0:
        print(
            f"overhead: p50 {(on.pct(0.5) - off.pct(0.5)) * 1000:+.2f} ms, "
            f"p99 {(on.pct(0.99) - off.pct(0.99)) * 1000:+.2f} ms, "
            f"throughput {(on.rps / off.rps - 1) * 100:+.1f} %, "
            f"server CPU {on.cpu_ms_per_request - off.cpu_ms_per_request:+.3f} ms/request"
        )
    return 0
