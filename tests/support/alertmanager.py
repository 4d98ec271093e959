"""A real Alertmanager (Debian's `prometheus-alertmanager` binary) on loopback, for integration
tests: start, stop, restart on the same port and state, and its API v2 (alerts, silences)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.procs import free_port, spawn_logged, stop_popen, wait_http_ok
from tests.support.requirements import ALERTMANAGER


def webhook_route(*urls: str, token: str | None = None, **timing: str) -> dict[str, Any]:
    """A config sending every alert to `urls` (webhook v4, resolves too), fast timings."""
    hook: dict[str, Any] = {"send_resolved": True}
    if token:
        hook["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return {
        "route": {
            "receiver": "hooks",
            "group_by": ["alertname", "service"],
            "group_wait": timing.get("group_wait", "1s"),
            "group_interval": timing.get("group_interval", "2s"),
            "repeat_interval": timing.get("repeat_interval", "1h"),
        },
        "receivers": [{"name": "hooks", "webhook_configs": [{**hook, "url": u} for u in urls]}],
    }


class AlertmanagerServer:
    def __init__(self, workdir: Path, config: dict[str, Any], port: int | None = None) -> None:
        self.workdir = workdir
        self.config = config
        self.port = port or free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AlertmanagerServer:
        binary = shutil.which(ALERTMANAGER)
        if binary is None:
            raise RuntimeError("alertmanager not found (apt-get install prometheus-alertmanager)")
        config_path = self.workdir / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(self.config))
        data = self.workdir / "am-data"
        data.mkdir(exist_ok=True)
        self.popen = spawn_logged(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # one instance: no gossip port to collide on
            ],
            self.workdir / "alertmanager.log",
        )
        wait_http_ok(self.url + "/-/ready", 30.0, self.popen)
        return self

    def stop(self) -> None:
        stop_popen(self.popen)

    def restart(self) -> None:
        """Same port, same state directory (silences and notification log survive)."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        path = self.workdir / "alertmanager.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # API v2 ----------------------------------------------------------------------------------

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = httpx.get(self.url + "/api/v2/alerts", params=params, timeout=5.0)
        response.raise_for_status()
        return list(response.json())

    def silence(self, matchers: dict[str, str], minutes: float = 30, comment: str = "test") -> str:
        now = datetime.now(UTC)
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
            "createdBy": "integration-test",
            "comment": comment,
        }
        response = httpx.post(self.url + "/api/v2/silences", json=body, timeout=5.0)
        response.raise_for_status()
        return str(response.json()["silenceID"])

    def expire(self, silence_id: str) -> None:
        response = httpx.delete(self.url + f"/api/v2/silence/{silence_id}", timeout=5.0)
        response.raise_for_status()
