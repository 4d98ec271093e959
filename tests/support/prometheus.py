"""A real Prometheus server (Debian's `prometheus` binary) on loopback, for integration tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.procs import free_port, spawn_logged, stop_popen, wait_http_ok


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


@dataclass
class ScrapeTarget:
    """A static scrape target: `address` is host:port, `labels` become series labels."""

    job: str
    address: str
    labels: dict[str, str]


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        targets: list[ScrapeTarget],
        scrape_interval: str = "1s",
        extra_config: dict[str, Any] | None = None,
        file_sd: bool = False,
        extra_args: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.targets = targets
        # file_sd: targets come from a file Prometheus watches, so changing them goes through
        # service discovery (and its update delay) as the stack's docker SD does.
        self.file_sd = file_sd
        self.scrape_interval = scrape_interval
        self.extra_config = extra_config or {}
        self.extra_args = extra_args or []
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, Any]:
        jobs = _groups_by_job(self.targets)
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [
                {
                    "job_name": job,
                    "scrape_interval": self.scrape_interval,
                    "scrape_timeout": self.scrape_interval,
                    **(
                        {"file_sd_configs": [{"files": [str(self._targets_file(job))]}]}
                        if self.file_sd
                        else {"static_configs": static}
                    ),
                }
                for job, static in jobs.items()
            ],
            **self.extra_config,
        }

    def _targets_file(self, job: str) -> Path:
        return self.workdir / f"targets-{job}.json"

    def _write_targets_file(self, job: str, groups: list[dict[str, Any]]) -> None:
        staging = self._targets_file(job).with_suffix(".tmp")
        staging.write_text(json.dumps(groups))
        staging.replace(self._targets_file(job))  # atomic: Prometheus never reads half a file

    def start(self) -> PrometheusServer:
        binary = prometheus_binary()
        if binary is None:
            raise RuntimeError("prometheus binary not found (apt-get install prometheus)")
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self._config()))
        if self.file_sd:
            for job, groups in _groups_by_job(self.targets).items():
                self._write_targets_file(job, groups)
        data = self.workdir / "prom-data"
        data.mkdir(exist_ok=True)
        self.popen = spawn_logged(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1h",
                *self.extra_args,
            ],
            self.workdir / "prometheus.log",
        )
        wait_http_ok(self.url + "/-/ready", 30.0, self.popen)
        return self

    def set_targets(self, job: str, targets: list[ScrapeTarget]) -> None:
        """With file_sd: replace one job's targets, as a service-discovery update would."""
        if not self.file_sd:
            raise RuntimeError("set_targets needs PrometheusServer(..., file_sd=True)")
        self._write_targets_file(job, _groups_by_job(targets).get(job, []))

    def stop(self) -> None:
        stop_popen(self.popen)

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(self.url + "/api/v1/query", params={"query": promql}, timeout=5.0)
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def wait_for_targets_up(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            up = [r for r in self.query("up == 1")]
            if len(up) >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"fewer than {count} targets up after {timeout_s}s")


def _groups_by_job(targets: list[ScrapeTarget]) -> dict[str, list[dict[str, Any]]]:
    """Prometheus target groups (one per target, with its labels), by job."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(
            {"targets": [target.address], "labels": target.labels}
        )
    return jobs
