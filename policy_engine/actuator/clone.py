"""Pure: turn `docker inspect` of an existing replica into the create request for a new one.

Mirrors what `docker compose up --scale` (v2.40) produces, checked by experiment on this machine:
same image, env, cmd, healthcheck, host config and labels; `container-number` set to the new
number, `oneoff=False`, `config-hash` kept (so a later `docker compose up` sees the replica as up
to date); name `<project>-<service>-<n>`; on each network the aliases `[<name>, <service>, ...the
service's own aliases]` (the daemon adds the short id itself).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from policy_engine.actuator.selection import NUMBER_LABEL, ONEOFF_LABEL, replica_name

# Labels compose only sets on a container being replaced; a fresh replica must not carry them.
_DROP_LABELS = ("com.docker.compose.replace",)
# Endpoint fields the daemon fills in for a running container; sending them back would conflict.
_ENDPOINT_KEEP = ("Links", "DriverOpts")


class CloneError(ValueError):
    """The template cannot be cloned the way compose would (e.g. a fixed host port)."""


@dataclass
class CloneSpec:
    """Everything needed to create and wire one new replica."""

    name: str
    number: int
    config: dict[str, Any]
    # Networks beyond the primary one, connected after create (API 1.41 takes one at create).
    extra_networks: dict[str, dict[str, Any]] = field(default_factory=dict)


def _aliases(
    endpoint: dict[str, Any], template_id: str, template_name: str, new_name: str
) -> list[str]:
    keep = [new_name]
    for alias in endpoint.get("Aliases") or []:
        if alias in (template_name, template_id[:12], template_id) or alias in keep:
            continue
        keep.append(alias)
    return keep


def _endpoint(endpoint: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {key: endpoint[key] for key in _ENDPOINT_KEEP if endpoint.get(key)}
    if aliases:
        out["Aliases"] = aliases
    return out


def fixed_host_ports(host_config: dict[str, Any]) -> list[str]:
    """Published ports pinned to a host port: a second replica could not bind them."""
    pinned = []
    for container_port, bindings in (host_config.get("PortBindings") or {}).items():
        for binding in bindings or []:
            if str(binding.get("HostPort") or "").strip() not in ("", "0"):
                pinned.append(f"{binding.get('HostPort')}->{container_port}")
    return pinned


def build_clone(
    template: dict[str, Any], project: str, service: str, number: int, image: str
) -> CloneSpec:
    """Create request (Config + HostConfig + NetworkingConfig) for replica `number`."""
    config = copy.deepcopy(template.get("Config") or {})
    host_config = copy.deepcopy(template.get("HostConfig") or {})
    networks = copy.deepcopy((template.get("NetworkSettings") or {}).get("Networks") or {})
    template_id = str(template.get("Id", ""))
    template_name = str(template.get("Name", "")).lstrip("/")
    name = replica_name(project, service, number)

    pinned = fixed_host_ports(host_config)
    if pinned:
        raise CloneError(
            f"service {service!r} publishes fixed host ports {pinned}; cannot add a replica"
        )

    # The daemon names the new container's host after its own id, as compose leaves it.
    config.pop("Hostname", None)
    config["Image"] = image
    labels = dict(config.get("Labels") or {})
    for key in _DROP_LABELS:
        labels.pop(key, None)
    labels[NUMBER_LABEL] = str(number)
    labels[ONEOFF_LABEL] = "False"
    config["Labels"] = labels

    mode = str(host_config.get("NetworkMode") or "")
    endpoints: dict[str, dict[str, Any]] = {}
    extra: dict[str, dict[str, Any]] = {}
    for net_name, endpoint in networks.items():
        # The default bridge network rejects network-scoped aliases.
        aliases = (
            []
            if net_name == "bridge"
            else _aliases(endpoint or {}, template_id, template_name, name)
        )
        spec = _endpoint(endpoint or {}, aliases)
        if net_name == mode or (mode == "default" and net_name == "bridge"):
            endpoints[net_name] = spec
        else:
            extra[net_name] = spec
    if (
        not endpoints
        and extra
        and mode not in ("host", "none")
        and not mode.startswith("container:")
    ):
        # NetworkMode names a network the template is not on (unusual): use its first one.
        first = next(iter(extra))
        endpoints[first] = extra.pop(first)
        host_config["NetworkMode"] = first
    config["HostConfig"] = host_config
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return CloneSpec(name=name, number=number, config=config, extra_networks=extra)
