"""Labels that make a test container look like replica 1 of a compose service opted in to
remediation (what the policy engine's actuator selects)."""

from __future__ import annotations


def compose_replica_labels(project: str, service: str, opted_in: bool = True) -> dict[str, str]:
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
    }
    if opted_in:
        labels["relia.remediation"] = "enabled"
    return labels
