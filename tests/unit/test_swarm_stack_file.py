"""scripts/swarm_stack.py: the merged compose config becomes a stack file the 20.10 stack loader
accepts, and the Prometheus config gets task discovery for its `services` job."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "swarm_stack", REPO / "scripts" / "swarm_stack.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def merged() -> dict[str, Any]:
    return {
        "name": "relia",
        "services": {
            "orders": {
                "build": {"context": "."},
                "depends_on": {"users": {"condition": "service_healthy"}},
                "restart": "unless-stopped",
                "command": None,
                "image": "relia-services:latest",
                "ports": [
                    {"host_ip": "127.0.0.1", "published": "8001", "target": 8001, "mode": "ingress"}
                ],
                "volumes": [
                    {
                        "type": "bind",
                        "source": "/x",
                        "target": "/y",
                        "bind": {"create_host_path": True},
                    },
                    {"type": "volume", "source": "data", "target": "/d", "volume": {}},
                ],
                "deploy": {"placement": {}, "replicas": 1},
            }
        },
        "networks": {"default": {"name": "relia_default", "driver": "overlay", "ipam": {}}},
        "volumes": {"data": {"name": "relia_data"}},
        "x-logging": {},
    }


def test_to_stack_drops_what_swarm_refuses_and_keeps_the_rest() -> None:
    stack = load().to_stack(merged())
    assert stack["version"] == "3.9"
    assert set(stack) == {
        "version",
        "services",
        "networks",
        "volumes",
    }
    orders = stack["services"]["orders"]
    assert set(orders) == {"image", "ports", "volumes", "deploy", "labels"}
    assert orders["ports"] == [{"published": 8001, "target": 8001, "mode": "host"}]
    assert orders["volumes"][0] == {"type": "bind", "source": "/x", "target": "/y"}
    assert orders["deploy"] == {"replicas": 1, "endpoint_mode": "dnsrr"}
    assert stack["networks"] == {"default": {"driver": "overlay"}}
    assert stack["volumes"] == {"data": {"name": "relia-swarm_data"}}  # not compose's volumes


def test_tasks_blank_the_compose_labels_their_images_carry_and_keep_their_own() -> None:
    """A task inherits its image's labels, and compose-built images name the compose project:
    the stack's containers must not read as that project's (a compose engine would act on them)."""
    config = merged()
    config["services"]["orders"]["labels"] = {"relia.remediation": "enabled"}
    labels = load().to_stack(config)["services"]["orders"]["labels"]
    assert labels == {
        "relia.remediation": "enabled",
        "com.docker.compose.project": "",
        "com.docker.compose.service": "",
        "com.docker.compose.version": "",
    }


def test_to_stack_refuses_a_config_without_services() -> None:
    with pytest.raises(ValueError, match="no services"):
        load().to_stack({"name": "relia"})


def test_the_stack_prometheus_finds_tasks_and_keeps_every_other_job() -> None:
    module = load()
    source = yaml.safe_load((REPO / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    out = module.swarm_prometheus(source)
    jobs = {j["job_name"]: j for j in out["scrape_configs"]}
    assert set(jobs) == {j["job_name"] for j in source["scrape_configs"]}
    assert jobs["services"]["dockerswarm_sd_configs"][0]["role"] == "tasks"
    service_rule = [
        r for r in jobs["services"]["relabel_configs"] if r.get("target_label") == "service"
    ]
    assert service_rule == [
        {
            "source_labels": ["__meta_dockerswarm_service_name"],
            "regex": "relia_(.+)",
            "target_label": "service",
        }
    ]
    assert jobs["probes"] == next(j for j in source["scrape_configs"] if j["job_name"] == "probes")
    with pytest.raises(ValueError, match="no `services` job"):
        module.swarm_prometheus({"scrape_configs": [{"job_name": "x"}]})


def test_a_named_stack_shifts_its_ports_and_keeps_its_own_volumes_and_tasks() -> None:
    """A second stack beside the compose one (CI's swarm e2e): other ports, other volumes,
    and its Prometheus keeps only its own tasks and strips its own prefix."""
    module = load()
    stack = module.to_stack(merged(), "relia-ci", 10000)
    assert stack["services"]["orders"]["ports"][0]["published"] == 18001
    assert stack["volumes"] == {"data": {"name": "relia-ci-swarm_data"}}
    source = yaml.safe_load((REPO / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    rules = module.swarm_prometheus(source, "relia-ci")["scrape_configs"]
    relabel = next(j for j in rules if j["job_name"] == "services")["relabel_configs"]
    by_source = {tuple(r["source_labels"]): r["regex"] for r in relabel if "regex" in r}
    assert by_source[("__meta_dockerswarm_service_label_com_docker_stack_namespace",)] == "relia-ci"
    assert by_source[("__meta_dockerswarm_network_name",)] == "relia-ci_default"
    assert by_source[("__meta_dockerswarm_service_name",)] == "relia-ci_(.+)"
    with pytest.raises(ValueError, match="past 65535"):
        module.to_stack(merged(), "relia-ci", 60000)


def test_ports_another_stack_listens_on_are_named_before_a_deploy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`make up` then `make up-swarm` on the default ports: the compose stack's proxies listen
    on 127.0.0.1, and Swarm's host-mode bind on every interface would leave the tasks pending
    until the timeout. A clear refusal instead, naming the ports."""
    module = load()
    with socket.socket() as taken, socket.socket() as freed:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        freed.bind(("127.0.0.1", 0))
        busy, free = taken.getsockname()[1], freed.getsockname()[1]
        freed.close()  # bound once, free again
        config = merged()
        config["services"]["orders"]["ports"] = [
            {"published": str(busy), "target": 8001},
            {"published": str(free), "target": 8002},
        ]
        stack = module.to_stack(config)
        assert module.published_ports(stack) == sorted([("orders", busy), ("orders", free)])
        assert module.busy_ports(module.published_ports(stack)) == [("orders", busy)]
        path = tmp_path / "stack.json"
        path.write_text(json.dumps(stack))
        monkeypatch.setattr(module.sys, "argv", ["swarm_stack.py", "--busy-ports", str(path)])
        assert module.main() == 2
        err = capsys.readouterr().err
        assert f"port {busy} (orders) is taken" in err
        assert str(free) not in err
        assert "RELIA_PORT_OFFSET" in err
    assert module.main() == 0  # the listener is gone


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RELIA_STACK": "Relia_CI"}, "RELIA_STACK"),
        ({"RELIA_STACK": "x" * 40}, "RELIA_STACK"),
        ({"RELIA_PORT_OFFSET": "-5"}, "RELIA_PORT_OFFSET"),
        ({"RELIA_PORT_OFFSET": "1e4"}, "RELIA_PORT_OFFSET"),
    ],
)
def test_bad_stack_settings_are_refused_by_name(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    module = load()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(module.sys, "argv", ["swarm_stack.py"])
    assert module.main() == 2
    assert message in capsys.readouterr().err
