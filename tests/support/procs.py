"""Start project processes on loopback for tests, and stop them reliably."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers 2xx; fail early if the process died."""
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=1.0)
            if response.is_success:
                return
            last_error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout_s}s: {last_error}")


@dataclass
class Proc:
    """A `python -m module` child process listening on 127.0.0.1:port."""

    module: str
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/health", timeout_s: float = 20.0) -> Proc:
        env = {**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_http_ok(self.url + ready_path, timeout_s, self.popen)
        except Exception:
            self.stop()
            raise RuntimeError(
                f"{self.module} failed to start; log:\n{self.log_text()[-4000:]}"
            ) from None
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return None if self.popen is None else self.popen.returncode
        self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=timeout_s)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def spawn_logged(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """A binary in its own session, stdout and stderr appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_popen(popen: subprocess.Popen[bytes] | None, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`."""
    if popen is None or popen.poll() is not None:
        return
    popen.terminate()
    try:
        popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=timeout_s)


def start_module(
    module: str,
    tmp_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    ready_path: str = "/health",
    timeout_s: float = 20.0,
) -> Proc:
    port = port or free_port()
    name = module.replace(".", "_")
    proc = Proc(module, port, tmp_dir / f"{name}-{port}.log", dict(env or {}))
    return proc.start(ready_path=ready_path, timeout_s=timeout_s)


# No background noise, no exporter: tests see only what they inject.
QUIET_SERVICE_ENV = {
    "CHAOS_ENABLED": "false",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
}


@contextmanager
def demo_services(
    tmp_dir: Path, orders_env: Mapping[str, str] | None = None
) -> Iterator[dict[str, Proc]]:
    """users, payments, and orders wired to them, as quiet processes; all stopped on exit."""
    procs: dict[str, Proc] = {}
    try:
        procs["users"] = start_module("services.users", tmp_dir, env=QUIET_SERVICE_ENV)
        procs["payments"] = start_module("services.payments", tmp_dir, env=QUIET_SERVICE_ENV)
        urls = {"USERS_URL": procs["users"].url, "PAYMENTS_URL": procs["payments"].url}
        env = {**QUIET_SERVICE_ENV, **urls, **(orders_env or {})}
        procs["orders"] = start_module("services.orders", tmp_dir, env=env)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
