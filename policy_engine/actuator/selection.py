"""Pure blast-radius and numbering rules for the Docker actuator (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
OPT_IN_LABEL = "relia.remediation"
OPT_IN_VALUE = "enabled"
# A container carrying this label is the engine itself (set in docker-compose.yml); never touched.
ROLE_LABEL = "relia.role"
SELF_ROLE = "policy-engine"
# Set by Swarm on every task container. A task started from an image that `docker compose build`
# made inherits that image's compose project and service labels, so the label alone does not
# make a container a compose replica (seen: a compose engine scaled a swarm stack's task down).
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX12 = re.compile(r"[0-9a-f]{12}")

T = TypeVar("T")
_SELF_MOUNTS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


@dataclass(frozen=True)
class Candidate:
    """What the filter needs to know about a container."""

    id: str
    name: str
    labels: Mapping[str, str]


def self_ids_from_proc(cgroup_text: str, mountinfo_text: str) -> set[str]:
    """Full container ids found in /proc/self/cgroup (v1) or /proc/self/mountinfo (v1 and v2)."""
    ids = set(_HEX64.findall(cgroup_text))
    # Docker bind-mounts /etc/hostname from /var/lib/docker/containers/<id>/ (works on cgroup v2).
    # Only those mount points count: on the host, mountinfo lists every container's shm mount.
    for line in mountinfo_text.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] in _SELF_MOUNTS:
            match = re.search(r"/containers/([0-9a-f]{64})/", fields[3])
            if match:
                ids.add(match.group(1))
    return ids


def is_self(candidate: Candidate, self_ids: Iterable[str], hostname: str | None) -> bool:
    """True when the candidate is (or claims to be) the engine's own container."""
    if candidate.labels.get(ROLE_LABEL) == SELF_ROLE:
        return True
    if any(candidate.id.startswith(sid) or sid.startswith(candidate.id) for sid in self_ids if sid):
        return True
    # Docker sets HOSTNAME to the 12-char short id unless the compose file overrides hostname.
    return bool(hostname and _HEX12.fullmatch(hostname) and candidate.id.startswith(hostname))


def ineligibility_reason(
    candidate: Candidate,
    project: str,
    self_ids: Iterable[str] = (),
    hostname: str | None = None,
    service: str | None = None,
) -> str | None:
    """Why the actuator must not touch this container, or None when it may."""
    labels = candidate.labels
    if not project:
        return "no compose project configured"
    if labels.get(PROJECT_LABEL) != project:
        return f"not in compose project {project!r} (project={labels.get(PROJECT_LABEL)!r})"
    if labels.get(SWARM_SERVICE_LABEL):
        return f"a task of Swarm service {labels[SWARM_SERVICE_LABEL]!r}: Swarm manages it"
    if labels.get(OPT_IN_LABEL) != OPT_IN_VALUE:
        return f"no opt-in label {OPT_IN_LABEL}={OPT_IN_VALUE}"
    if labels.get(ONEOFF_LABEL, "False") != "False":
        return "one-off container (docker compose run)"
    if is_self(candidate, self_ids, hostname):
        return "it is the policy engine's own container"
    if service is not None and labels.get(SERVICE_LABEL) != service:
        return f"belongs to service {labels.get(SERVICE_LABEL)!r}, not {service!r}"
    return None


def eligible(
    candidates: Iterable[Candidate],
    project: str,
    self_ids: Iterable[str] = (),
    hostname: str | None = None,
    service: str | None = None,
) -> list[Candidate]:
    """Keep only the containers the actuator may act on."""
    ids = list(self_ids)
    return [
        c for c in candidates if ineligibility_reason(c, project, ids, hostname, service) is None
    ]


def container_number(labels: Mapping[str, str]) -> int:
    """Compose's replica number; 0 when missing or garbled (sorts first, never reused)."""
    try:
        return int(labels.get(NUMBER_LABEL, "0"))
    except ValueError:
        return 0


def next_numbers(used: Iterable[int], count: int) -> list[int]:
    """Numbers for new replicas: max+1 onwards, as compose v2.40 does (it never refills gaps)."""
    start = max(used, default=0) + 1
    return list(range(start, start + count))


def replica_name(project: str, service: str, number: int) -> str:
    """Compose v2 container name."""
    return f"{project}-{service}-{number}"


def scale_down_victims(items: Iterable[tuple[int, T]], count: int) -> list[T]:
    """The `count` highest-numbered replicas, highest first."""
    ordered = sorted(items, key=lambda pair: pair[0], reverse=True)
    return [item for _, item in ordered[: max(count, 0)]]


def scale_target(current: int, direction: str, step: int, lo: int, hi: int) -> int:
    """Replica count after a scale action, clamped to [lo, hi] without crossing back."""
    if direction == "up":
        return max(current, min(current + step, hi))
    return min(current, max(current - step, lo))


def parse_rfc3339(value: str | None) -> float | None:
    """RFC 3339 timestamps (Docker's, with nanoseconds; Alertmanager's `startsAt`) -> Unix
    seconds; None for the zero time or anything else."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None:
        return None
    base, frac, zone = match.groups()
    stamp = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return stamp.timestamp() + (float("0." + frac) if frac else 0.0)
