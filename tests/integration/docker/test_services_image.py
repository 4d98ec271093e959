"""The services image builds on the stand-in base and a container of it turns healthy."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

PREFIX = "relia-test-svcimg"


def _docker(
    *args: str, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_image_builds_and_container_turns_healthy(repo_root: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    tag = f"{PREFIX}:{suffix}"
    name = f"{PREFIX}-{suffix}"
    try:
        build = _docker(
            "build",
            "-f",
            "services/Dockerfile",
            "-t",
            tag,
            str(repo_root),
            timeout=900,
            check=False,
        )
        assert build.returncode == 0, build.stderr[-4000:]
        config = json.loads(_docker("image", "inspect", tag).stdout)[0]["Config"]
        assert config["User"] == "relia"
        assert config["Healthcheck"]["Test"][-1] == "services.healthcheck"
        # Nothing outside what the image needs came through the build context.
        listing = _docker("run", "--rm", "--entrypoint", "ls", tag, "-a", "/app").stdout.split()
        assert "services" in listing
        assert "tests" not in listing
        assert ".git" not in listing

        _docker(
            "run",
            "-d",
            "--name",
            name,
            "-e",
            "SERVICE=payments",
            "-e",
            "CHAOS_ENABLED=false",
            "--label",
            f"{PREFIX}=1",
            tag,
        )
        deadline = time.monotonic() + 120
        status = ""
        while time.monotonic() < deadline:
            state = json.loads(_docker("inspect", name).stdout)[0]["State"]
            status = state.get("Health", {}).get("Status", "")
            if status == "healthy" or not state["Running"]:
                break
            time.sleep(1)
        logs = _docker("logs", name, check=False)
        assert status == "healthy", f"status={status!r}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
        # The container serves the chosen domain and logs JSON lines for it.
        first = next(line for line in logs.stdout.splitlines() if line.startswith("{"))
        assert json.loads(first)["service"] == "payments"
        ps = _docker("exec", name, "python", "-c", "import os; print(os.getuid())").stdout
        assert ps.strip() != "0"
    finally:
        _docker("rm", "-f", name, check=False)
        _docker("image", "rm", "-f", tag, check=False)
