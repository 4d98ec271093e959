"""Blast-radius filter, self detection and numbering rules of the Docker actuator (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policy_engine.actuator import ScaleParams
from policy_engine.actuator.selection import (
    Candidate,
    eligible,
    ineligibility_reason,
    next_numbers,
    parse_rfc3339,
    replica_name,
    scale_down_victims,
    scale_target,
    self_ids_from_proc,
)

PROJECT = "relia"
SELF_ID = "a" * 64
OTHER_ID = "b" * 64


def labels(**overrides: str) -> dict[str, str]:
    base = {
        "com.docker.compose.project": PROJECT,
        "com.docker.compose.service": "orders",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.oneoff": "False",
        "relia.remediation": "enabled",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v != "<drop>"}


def cand(cid: str = OTHER_ID, **overrides: str) -> Candidate:
    return Candidate(id=cid, name="relia-orders-1", labels=labels(**overrides))


def test_opted_in_container_of_own_project_is_eligible() -> None:
    assert ineligibility_reason(cand(), PROJECT, [SELF_ID], "aaaaaaaaaaaa", "orders") is None


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"com.docker.compose.project": "other"}, "not in compose project"),
        ({"com.docker.compose.project": "<drop>"}, "not in compose project"),
        ({"relia.remediation": "<drop>"}, "no opt-in label"),
        ({"relia.remediation": "disabled"}, "no opt-in label"),
        ({"relia.remediation": "true"}, "no opt-in label"),
        ({"com.docker.compose.oneoff": "True"}, "one-off"),
        ({"relia.role": "policy-engine"}, "own container"),
        ({"com.docker.compose.service": "payments"}, "belongs to service"),
        # a swarm task whose compose-built image gave it the project's labels
        ({"com.docker.swarm.service.name": "relia-ci_orders"}, "task of Swarm service"),
    ],
)
def test_everything_else_is_refused_with_a_reason(overrides: dict[str, str], fragment: str) -> None:
    reason = ineligibility_reason(cand(**overrides), PROJECT, [], None, "orders")
    assert reason is not None
    assert fragment in reason


def test_own_container_is_refused_by_id_from_proc_and_by_hostname() -> None:
    assert "own container" in str(ineligibility_reason(cand(SELF_ID), PROJECT, [SELF_ID]))
    # HOSTNAME is the 12-char short id inside a container.
    assert "own container" in str(ineligibility_reason(cand(SELF_ID), PROJECT, [], SELF_ID[:12]))
    # A hostname that is not a short id (compose `hostname:` set) matches nothing.
    assert ineligibility_reason(cand(SELF_ID), PROJECT, [], "orders-host") is None


def test_empty_project_refuses_everything() -> None:
    assert ineligibility_reason(cand(**{"com.docker.compose.project": ""}), "") is not None


def test_eligible_filters_a_mixed_list() -> None:
    items = [
        cand("c" * 64),
        cand("d" * 64, **{"relia.remediation": "<drop>"}),
        cand("e" * 64, **{"com.docker.compose.project": "relia-other"}),
        cand(SELF_ID),
    ]
    kept = eligible(items, PROJECT, [SELF_ID], None, "orders")
    assert [c.id for c in kept] == ["c" * 64]


def test_self_ids_from_cgroup_v1_and_mountinfo() -> None:
    cgroup = f"12:memory:/docker/{SELF_ID}\n11:cpu:/docker/{SELF_ID}\n1:name=systemd:/\n"
    mountinfo = (
        f"712 690 8:1 /var/lib/docker/containers/{OTHER_ID}/hostname /etc/hostname "
        "rw - ext4 /dev/sda1 rw\n"
        "700 690 0:55 / / rw - overlay overlay rw\n"
    )
    assert self_ids_from_proc(cgroup, "") == {SELF_ID}
    assert self_ids_from_proc("0::/\n", mountinfo) == {OTHER_ID}


def test_host_mountinfo_with_other_containers_shm_is_not_self() -> None:
    # On the host, every container's shm mount is visible; that must not make them "self".
    host = f"99 30 0:60 / /var/lib/docker/containers/{OTHER_ID}/mounts/shm rw - tmpfs shm rw\n"
    assert self_ids_from_proc("1:name=systemd:/\n", host) == set()


def test_numbering_follows_compose() -> None:
    assert next_numbers([], 1) == [1]
    assert next_numbers([1, 2, 3], 2) == [4, 5]
    # Compose v2.40 does not refill gaps (web-2 removed, scale to 3 -> web-4).
    assert next_numbers([1, 3], 1) == [4]
    assert replica_name("relia", "orders", 4) == "relia-orders-4"


def test_scale_down_removes_highest_numbers_first() -> None:
    items = [(2, "two"), (10, "ten"), (1, "one"), (3, "three")]
    assert scale_down_victims(items, 2) == ["ten", "three"]
    assert scale_down_victims(items, 0) == []


@pytest.mark.parametrize(
    ("current", "direction", "step", "expected"),
    [
        (1, "up", 1, 2),
        (4, "up", 3, 5),  # clamped to max
        (5, "up", 1, 5),  # at max: no change
        (7, "up", 1, 7),  # above max already: never shrinks on "up"
        (3, "down", 1, 2),
        (3, "down", 5, 1),  # clamped to min
        (1, "down", 1, 1),  # at min: no change
        (0, "down", 1, 0),  # below min already: never grows on "down"
    ],
)
def test_scale_target_respects_bounds(
    current: int, direction: str, step: int, expected: int
) -> None:
    assert scale_target(current, direction, step, 1, 5) == expected


def test_scale_params_reject_bad_bounds() -> None:
    with pytest.raises(ValidationError, match="min_replicas"):
        ScaleParams(service="orders", direction="up", min_replicas=4, max_replicas=2)
    with pytest.raises(ValidationError):
        ScaleParams(service="orders", direction="up", step=0)
    with pytest.raises(ValidationError):
        ScaleParams(service="orders", direction="sideways")  # type: ignore[arg-type]


def test_parse_rfc3339() -> None:
    assert parse_rfc3339("2026-11-21T19:42:30.5Z") == pytest.approx(1795290150.5)
    assert parse_rfc3339("2026-11-21T20:42:30.123456789+01:00") == pytest.approx(
        1795290150.123456789
    )
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert parse_rfc3339("") is None
    assert parse_rfc3339("yesterday") is None
