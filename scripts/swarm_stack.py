"""Turn `docker compose config --format json` output into a stack file `docker stack deploy`
(Docker 20.10, compose schema 3.9) accepts: `python scripts/swarm_stack.py < merged.json`;
and `--prometheus IN OUT` writes the stack's Prometheus config: IN with its `services` job
found through Swarm task discovery instead of compose containers (one file to maintain).
The stack's name (RELIA_STACK, default relia) and a shift of every published port
(RELIA_PORT_OFFSET, default 0) let a second stack run beside the compose one (CI does).

Compose v2 resolves the overrides, profiles, anchors and variables; what is left are the fields
the older stack loader rejects or Swarm ignores (docs/swarm.md, "What the stack file drops").
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

import yaml

# Compose-only service fields: Swarm ignores or refuses them (build: images must exist already;
# depends_on: Swarm restarts a task until its dependencies answer; restart: deploy.restart_policy).
DROPPED = ("build", "depends_on", "restart", "pull_policy", "profiles", "container_name")
DEFAULT_STACK = "relia"
# `docker compose build` labels its images with these, and a container inherits its image's
# labels: blanked on the tasks, or a compose project of the same name (its policy engine, its
# Prometheus, `docker compose down`) takes the stack's tasks for its own containers. Seen in CI:
# the compose engine counted a swarm task as an `orders` replica and scaled its own one away.
COMPOSE_IMAGE_LABELS = (
    "com.docker.compose.project",
    "com.docker.compose.service",
    "com.docker.compose.version",
)


def volume_prefix(stack: str) -> str:
    """`relia-swarm_` for the default stack: not the compose project's volumes (relia_*)."""
    return f"{stack}-swarm_"


def _port(port: dict[str, Any], offset: int) -> dict[str, Any]:
    # Swarm has no host_ip. `host` mode: the port is bound on the node that runs the task, like
    # compose's; the routing mesh (`ingress`) did not answer on 127.0.0.1 on this engine.
    out = {k: v for k, v in port.items() if k in ("target", "protocol")}
    out["mode"] = "host"
    if port.get("published") not in (None, ""):
        published = int(port["published"]) + offset
        if published > 65535:
            raise ValueError(f"port {port['published']} shifted by {offset} is past 65535")
        out["published"] = published
    return out


def _mount(volume: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in volume.items() if k not in ("bind", "volume")}
    bind = {k: v for k, v in (volume.get("bind") or {}).items() if k == "propagation"}
    if bind:
        out["bind"] = bind
    return out


def _service(spec: dict[str, Any], port_offset: int) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if v is not None and k not in DROPPED}
    if "ports" in out:
        out["ports"] = [_port(p, port_offset) for p in out["ports"]]
    if "volumes" in out:
        out["volumes"] = [_mount(v) for v in out["volumes"]]
    out["labels"] = {**(out.get("labels") or {}), **dict.fromkeys(COMPOSE_IMAGE_LABELS, "")}
    deploy = out.setdefault("deploy", {})
    if deploy.get("placement") == {}:
        deploy.pop("placement")
    # DNS round robin: a service name resolves to its tasks' addresses (nginx re-resolves every
    # 2 s and spreads requests over them). The virtual IP needs IPVS, which this kernel lacks.
    deploy.setdefault("endpoint_mode", "dnsrr")
    return out


def to_stack(
    config: dict[str, Any], stack_name: str = DEFAULT_STACK, port_offset: int = 0
) -> dict[str, Any]:
    """The stack file for a merged compose config (pure: no I/O)."""
    if port_offset < 0:
        raise ValueError(f"port offset {port_offset} is negative")
    if not isinstance(config.get("services"), dict) or not config["services"]:
        raise ValueError("no services in the compose config")
    networks = {
        name: {k: v for k, v in (net or {}).items() if k in ("driver", "attachable", "external")}
        for name, net in (config.get("networks") or {}).items()
    }
    prefix = volume_prefix(stack_name)
    volumes = {name: {"name": prefix + name} for name in config.get("volumes") or {}}
    stack: dict[str, Any] = {
        "version": "3.9",
        "services": {
            name: _service(spec, port_offset) for name, spec in config["services"].items()
        },
    }
    if networks:
        stack["networks"] = networks
    if volumes:
        stack["volumes"] = volumes
    return stack


# Tasks of the stack's opted-in services; `service` is the name without the stack prefix, so
# the catalog, policies and dashboard see the same labels as under compose.
def services_job(stack: str = DEFAULT_STACK) -> dict[str, Any]:
    """The `services` scrape job: the stack's opted-in tasks on its own network (a stack name
    is letters, digits and '-', nothing a regex would read differently)."""
    name = stack
    return {
        "job_name": "services",
        "dockerswarm_sd_configs": [
            {
                "host": "unix:///var/run/docker.sock",
                "role": "tasks",
                "port": 8000,
                "refresh_interval": "5s",
            }
        ],
        "relabel_configs": [
            {
                "source_labels": ["__meta_dockerswarm_task_desired_state"],
                "regex": "running",
                "action": "keep",
            },
            {
                "source_labels": ["__meta_dockerswarm_service_label_com_docker_stack_namespace"],
                "regex": name,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_dockerswarm_container_label_relia_scrape"],
                "regex": "true",
                "action": "keep",
            },
            # one target per task: its address on the stack's own network, at its metrics port
            {
                "source_labels": ["__meta_dockerswarm_network_name"],
                "regex": f"{name}_default",
                "action": "keep",
            },
            {
                "source_labels": [
                    "__address__",
                    "__meta_dockerswarm_container_label_relia_metrics_port",
                ],
                "separator": ";",
                "regex": "([^:]+):[0-9]+;([0-9]+)",
                "replacement": "$1:$2",
                "target_label": "__address__",
            },
            {
                "source_labels": ["__meta_dockerswarm_service_name"],
                "regex": f"{name}_(.+)",
                "target_label": "service",
            },
            {
                "source_labels": [
                    "__meta_dockerswarm_service_name",
                    "__meta_dockerswarm_task_slot",
                ],
                "separator": ".",
                "target_label": "container",
            },
            {"source_labels": ["__meta_dockerswarm_task_slot"], "target_label": "replica"},
        ],
    }


def swarm_prometheus(config: dict[str, Any], stack: str = DEFAULT_STACK) -> dict[str, Any]:
    """The compose Prometheus config with its `services` job swapped for task discovery."""
    jobs = config.get("scrape_configs") or []
    if not any(job.get("job_name") == "services" for job in jobs):
        raise ValueError("the Prometheus config has no `services` job to replace")
    swapped = [services_job(stack) if j.get("job_name") == "services" else j for j in jobs]
    return {**config, "scrape_configs": swapped}


def published_ports(stack: dict[str, Any]) -> list[tuple[str, int]]:
    """(service, port) for every port the stack file publishes on its nodes."""
    return sorted(
        (name, int(port["published"]))
        for name, spec in stack.get("services", {}).items()
        for port in spec.get("ports") or []
        if port.get("published") not in (None, "")
    )


def busy_ports(ports: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The ports something on this host already holds. Swarm binds a host-mode port on every
    interface; a taken one leaves the task pending with no error a user sees at once."""
    busy = []
    for service, port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # past connections in TIME_WAIT do not hold a port; a listener does, reuse or not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                busy.append((service, port))
    return busy


def _stack_settings() -> tuple[str, int]:
    """RELIA_STACK and RELIA_PORT_OFFSET, checked (read once, by the script's entry point)."""
    stack = os.environ.get("RELIA_STACK") or DEFAULT_STACK
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", stack):
        raise ValueError(f"RELIA_STACK {stack!r}: lower-case letters, digits and '-', 1-31 long")
    offset = os.environ.get("RELIA_PORT_OFFSET") or "0"
    if not offset.isdigit():
        raise ValueError(f"RELIA_PORT_OFFSET {offset!r} is not a whole number")
    return stack, int(offset)


def main() -> int:
    try:
        stack_name, port_offset = _stack_settings()
    except ValueError as exc:
        print(f"swarm_stack: {exc}", file=sys.stderr)
        return 2
    if sys.argv[1:2] == ["--busy-ports"] and len(sys.argv) == 3:
        taken = busy_ports(published_ports(json.loads(Path(sys.argv[2]).read_text())))
        for service, port in taken:
            print(f"port {port} ({service}) is taken on this host", file=sys.stderr)
        if taken:
            print(
                "swarm_stack: another stack holds these ports (`make up`'s compose stack?): "
                "`make down` first, or set RELIA_PORT_OFFSET (and RELIA_STACK) to run beside it",
                file=sys.stderr,
            )
        return 2 if taken else 0
    if sys.argv[1:2] == ["--prometheus"] and len(sys.argv) == 4:
        source, target = Path(sys.argv[2]), Path(sys.argv[3])
        target.parent.mkdir(parents=True, exist_ok=True)
        config = swarm_prometheus(yaml.safe_load(source.read_text()), stack_name)
        target.write_text(
            f"# generated from {source} by scripts/swarm_stack.py\n"
            + yaml.safe_dump(config, sort_keys=False)
        )
        return 0
    try:
        config = json.load(sys.stdin)
        stack = to_stack(config, stack_name, port_offset)
    except (ValueError, AttributeError, TypeError) as exc:
        print(f"swarm_stack: cannot convert the compose config: {exc}", file=sys.stderr)
        return 1
    json.dump(stack, sys.stdout, indent=1)  # JSON is YAML: `docker stack deploy -c` reads it
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
