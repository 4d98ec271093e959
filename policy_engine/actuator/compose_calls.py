"""The blocking Docker calls on one compose project's replicas (each run on the actuator's pool)."""

from __future__ import annotations

import contextlib
from typing import Any, Unpack

import docker.errors

from policy_engine.actuator.calls import CallOptions, DockerCalls
from policy_engine.actuator.changes import read_changes
from policy_engine.actuator.clone import build_clone
from policy_engine.actuator.replica import Replica, read_replica
from policy_engine.actuator.selection import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    SWARM_SERVICE_LABEL,
    Candidate,
    ineligibility_reason,
)
from policy_engine.actuator.types import ContainerChange


class ComposeCalls(DockerCalls):
    """List, inspect, restart, clone and remove the replicas of one compose project."""

    def __init__(
        self,
        project: str,
        *,
        default_stop_timeout_s: float = 10.0,
        **options: Unpack[CallOptions],
    ) -> None:
        if not project:
            raise ValueError("DockerActuator needs the compose project name")
        super().__init__(**options)
        self.project = project
        self.default_stop_timeout_s = default_stop_timeout_s

    def _none_eligible(self, service: str) -> str:
        return (
            f"no eligible containers for service {service!r} in compose project "
            f"{self.project!r} (they need the label relia.remediation=enabled)"
        )

    def _service_replicas(self, service: str) -> list[tuple[Replica, str | None]]:
        """Every container of project/service, each with the reason it is off-limits (or None)."""
        api = self._client().api
        labels = [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]
        out = []
        for summary in api.containers(all=True, filters={"label": labels}):
            try:
                attrs = api.inspect_container(summary["Id"])
            except docker.errors.NotFound:
                continue  # removed between list and inspect
            replica = read_replica(attrs)
            out.append((replica, self._reason(replica, service)))
        return sorted(out, key=lambda pair: pair[0].number)

    def _reason(self, replica: Replica, service: str | None) -> str | None:
        labels = (replica.attrs.get("Config") or {}).get("Labels") or {}
        candidate = Candidate(id=replica.id, name=replica.name, labels=labels)
        return ineligibility_reason(
            candidate, self.project, self._self_ids, self._hostname, service
        )

    def _explain(self, ref: str, service: str) -> str:
        """Why a container asked for by name/id is not a target (read-only lookup)."""
        try:
            attrs = self._client().api.inspect_container(ref)
        except docker.errors.NotFound:
            return f"no container named {ref!r}"
        reason = self._reason(read_replica(attrs), service)
        return reason or "not an eligible replica"

    def _inspect(self, container_id: str) -> Replica:
        return read_replica(self._client().api.inspect_container(container_id))

    def _restart(self, container_id: str, stop_timeout_s: float) -> None:
        self._client().api.restart(container_id, timeout=round(stop_timeout_s))

    def _image_ref(self, template: dict[str, Any]) -> str:
        """The template's image by name when the tag still points at it, else by id."""
        name = str((template.get("Config") or {}).get("Image") or "")
        image_id = str(template.get("Image") or "")
        try:
            if name and self._client().api.inspect_image(name).get("Id") == image_id:
                return name
        except docker.errors.ImageNotFound:
            pass
        return image_id or name

    def _create_and_start(self, template: dict[str, Any], service: str, number: int) -> str:
        api = self._client().api
        spec = build_clone(template, self.project, service, number, self._image_ref(template))
        created = api.create_container_from_config(spec.config, name=spec.name)
        container_id = str(created["Id"])
        try:
            for network, endpoint in spec.extra_networks.items():
                api.connect_container_to_network(
                    container_id,
                    network,
                    aliases=endpoint.get("Aliases"),
                    links=endpoint.get("Links"),
                    driver_opt=endpoint.get("DriverOpts"),
                )
            api.start(container_id)
        except Exception:
            # Never leave a half-made replica behind: compose would not count it as one either.
            with contextlib.suppress(Exception):
                api.remove_container(container_id, force=True, v=True)
            raise
        return spec.name

    def _stop_and_remove(self, container_id: str, stop_timeout_s: float) -> None:
        api = self._client().api
        try:
            api.stop(container_id, timeout=round(stop_timeout_s))
            api.remove_container(container_id, v=True)
        except docker.errors.NotFound:
            pass  # already gone: the goal (fewer replicas) is met

    def _events(self, service: str, since: float, until: float) -> list[ContainerChange]:
        labels = {PROJECT_LABEL: self.project, SERVICE_LABEL: service}
        # a swarm task built from the project's image carries its labels too: not a replica
        return read_changes(self._client().api, labels, since, until, (SWARM_SERVICE_LABEL,))
