"""Cloning a replica the way `docker compose up --scale` does (pure, on an inspect document)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy_engine.actuator.clone import CloneError, build_clone

TEMPLATE_ID = "6db6976c9fd9" + "0" * 52


def template(**host_config: Any) -> dict[str, Any]:
    """Trimmed `docker inspect` of relia-demo-web-1 as compose v2.40 created it."""
    return {
        "Id": TEMPLATE_ID,
        "Name": "/relia-demo-web-1",
        "Image": "sha256:7d32",
        "Config": {
            "Hostname": "6db6976c9fd9",
            "Env": ["GREETING=hello", "PORT=8000"],
            "Cmd": ["python", "/app/server.py"],
            "Image": "relia-acttest-web:latest",
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2000000000},
            "StopTimeout": 2,
            "Labels": {
                "com.docker.compose.config-hash": "d1b2",
                "com.docker.compose.container-number": "1",
                "com.docker.compose.oneoff": "False",
                "com.docker.compose.project": "relia-demo",
                "com.docker.compose.service": "web",
                "com.docker.compose.replace": "old-id",
                "relia.remediation": "enabled",
            },
        },
        "HostConfig": {"NetworkMode": "relia-demo_default", "Memory": 268435456, **host_config},
        "NetworkSettings": {
            "Networks": {
                "relia-demo_default": {
                    "Aliases": ["relia-demo-web-1", "web", "6db6976c9fd9"],
                    "IPAddress": "172.18.0.2",
                    "EndpointID": "65f7",
                    "IPAMConfig": {"IPv4Address": "172.18.0.2"},
                },
                "relia-demo_backend": {
                    "Aliases": ["relia-demo-web-1", "web", "api"],
                    "Links": None,
                },
            }
        },
    }


def test_clone_keeps_config_and_sets_compose_labels() -> None:
    source = template()
    before = copy.deepcopy(source)
    spec = build_clone(source, "relia-demo", "web", 4, "relia-acttest-web:latest")
    assert source == before, "the template document must not be mutated"
    assert spec.name == "relia-demo-web-4"
    config = spec.config
    assert "Hostname" not in config  # the daemon names the host after the new id
    assert config["Env"] == ["GREETING=hello", "PORT=8000"]
    assert config["Cmd"] == ["python", "/app/server.py"]
    assert config["Healthcheck"]["Test"] == ["CMD", "true"]
    assert config["HostConfig"]["Memory"] == 268435456
    labels = config["Labels"]
    assert labels["com.docker.compose.container-number"] == "4"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.config-hash"] == "d1b2"
    assert labels["relia.remediation"] == "enabled"
    assert "com.docker.compose.replace" not in labels


def test_clone_networks_get_compose_aliases() -> None:
    spec = build_clone(template(), "relia-demo", "web", 4, "img")
    endpoints = spec.config["NetworkingConfig"]["EndpointsConfig"]
    assert list(endpoints) == ["relia-demo_default"]
    primary = endpoints["relia-demo_default"]
    assert primary["Aliases"] == ["relia-demo-web-4", "web"]
    # Addresses and endpoint ids belong to the template; a static IP would collide.
    assert "IPAMConfig" not in primary
    assert "IPAddress" not in primary
    assert spec.extra_networks == {
        "relia-demo_backend": {"Aliases": ["relia-demo-web-4", "web", "api"]}
    }


def test_fixed_host_port_cannot_be_cloned() -> None:
    pinned = template(PortBindings={"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8001"}]})
    with pytest.raises(CloneError, match="8001"):
        build_clone(pinned, "relia-demo", "web", 2, "img")
    ephemeral = template(PortBindings={"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]})
    assert build_clone(ephemeral, "relia-demo", "web", 2, "img").name == "relia-demo-web-2"
