"""The pure fault engine: validation, the active set, expiry and per-request decisions."""

from __future__ import annotations

import random

import pytest

from relia_contracts.faults import (
    KINDS,
    MAX_ACTIVE_FAULTS,
    CpuFault,
    CrashFault,
    ErrorsFault,
    HangFault,
    LatencyFault,
    MemoryFault,
)
from services.common.faults import (
    FaultRequestError,
    FaultSet,
    NoiseConfig,
    TooManyFaults,
    parse_fault,
)


# -- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "cls", "params"),
    [
        (
            {"kind": "latency", "ms": 800},
            LatencyFault,
            {"ms": 800.0, "jitter_ms": 0.0, "probability": 1.0},
        ),
        (
            {"kind": "latency", "ms": 5.5, "jitter_ms": 2, "probability": 0.5},
            LatencyFault,
            {"ms": 5.5, "jitter_ms": 2.0, "probability": 0.5},
        ),
        ({"kind": "errors", "rate": 0.3}, ErrorsFault, {"rate": 0.3, "status": 500}),
        ({"kind": "errors", "rate": 1, "status": 503}, ErrorsFault, {"rate": 1.0, "status": 503}),
        ({"kind": "cpu"}, CpuFault, {"intensity": 1.0}),
        ({"kind": "cpu", "intensity": 0.25}, CpuFault, {"intensity": 0.25}),
        ({"kind": "memory", "mb_per_s": 10}, MemoryFault, {"mb_per_s": 10.0, "max_mb": 512}),
        (
            {"kind": "memory", "mb_per_s": 1.5, "max_mb": 64},
            MemoryFault,
            {"mb_per_s": 1.5, "max_mb": 64},
        ),
        ({"kind": "hang"}, HangFault, {"probability": 1.0}),
        ({"kind": "hang", "probability": 0.2}, HangFault, {"probability": 0.2}),
        ({"kind": "crash"}, CrashFault, {"exit_code": 1}),
        ({"kind": "crash", "exit_code": 3}, CrashFault, {"exit_code": 3}),
    ],
)
def test_every_kind_parses_with_defaults(body: dict, cls: type, params: dict) -> None:
    spec = parse_fault(body)
    assert isinstance(spec, cls)
    assert spec.params() == params
    assert spec.duration_s is None


def test_duration_is_accepted_and_kept_out_of_params() -> None:
    spec = parse_fault({"kind": "latency", "ms": 100, "duration_s": 30})
    assert spec.duration_s == 30.0
    assert "duration_s" not in spec.params()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"kind": "latancy", "ms": 1}, "unknown kind 'latancy'"),
        ({"kind": 3}, "unknown kind 3"),
        ({"ms": 100}, "missing 'kind'"),
        ([1, 2], "must be a JSON object"),
        ("latency", "must be a JSON object"),
        ({"kind": "latency"}, "ms: Field required"),
        ({"kind": "latency", "ms": 0}, "ms: Input should be greater than 0"),
        ({"kind": "latency", "ms": -5}, "ms: Input should be greater than 0"),
        ({"kind": "latency", "ms": 10, "probability": 1.5}, "probability: Input should be less"),
        ({"kind": "latency", "ms": 10, "jitter_ms": -1}, "jitter_ms: Input should be greater"),
        ({"kind": "latency", "ms": "800"}, "ms: Input should be a valid number"),
        ({"kind": "latency", "ms": True}, "ms: Input should be a valid number"),
        ({"kind": "latency", "ms": None}, "ms: Input should be a valid number"),
        ({"kind": "latency", "ms": 10, "msec": 3}, "msec: unknown parameter"),
        ({"kind": "errors"}, "rate: Field required"),
        ({"kind": "errors", "rate": 2}, "rate: Input should be less than or equal to 1"),
        ({"kind": "errors", "rate": 0.5, "status": 404}, "status: Input should be greater"),
        ({"kind": "errors", "rate": 0.5, "status": 600}, "status: Input should be less"),
        ({"kind": "errors", "rate": 0.5, "status": 500.5}, "status: Input should be a valid int"),
        ({"kind": "cpu", "intensity": 0}, "intensity: Input should be greater than 0"),
        ({"kind": "cpu", "intensity": 2}, "intensity: Input should be less"),
        ({"kind": "memory"}, "mb_per_s: Field required"),
        ({"kind": "memory", "mb_per_s": 10, "max_mb": 0}, "max_mb: Input should be greater"),
        ({"kind": "memory", "mb_per_s": 10, "max_mb": 10**6}, "max_mb: Input should be less"),
        ({"kind": "hang", "probability": -0.1}, "probability: Input should be greater"),
        ({"kind": "crash", "exit_code": 256}, "exit_code: Input should be less"),
        ({"kind": "crash", "exit_code": "1"}, "exit_code: Input should be a valid integer"),
        ({"kind": "hang", "duration_s": 0}, "duration_s: Input should be greater than 0"),
        ({"kind": "hang", "duration_s": "10"}, "duration_s: Input should be a valid number"),
    ],
)
def test_bad_requests_have_a_readable_message(body: object, fragment: str) -> None:
    with pytest.raises(FaultRequestError) as info:
        parse_fault(body)
    assert fragment in info.value.message


def test_error_items_name_the_field() -> None:
    with pytest.raises(FaultRequestError) as info:
        parse_fault({"kind": "errors", "rate": 3, "bogus": 1})
    fields = {item["field"] for item in info.value.errors}
    assert fields == {"rate", "bogus"}


# -- the active set -----------------------------------------------------------------------
def test_add_gives_ids_and_lifetimes() -> None:
    faults = FaultSet()
    a = faults.add(parse_fault({"kind": "latency", "ms": 10}), now=100.0)
    b = faults.add(parse_fault({"kind": "errors", "rate": 1, "duration_s": 5}), now=101.0)
    assert a.id != b.id
    assert a.id.startswith("f-")
    assert b.id.startswith("f-")
    assert a.expires_at is None
    assert b.expires_at == 106.0
    d = b.to_dict()
    assert d["kind"] == "errors"
    assert d["params"] == {"rate": 1.0, "status": 500}
    assert d["started_at"] == 101.0
    assert d["expires_at"] == 106.0


def test_expiry_by_duration() -> None:
    faults = FaultSet()
    keep = faults.add(parse_fault({"kind": "hang"}), now=0.0)
    short = faults.add(parse_fault({"kind": "hang", "duration_s": 2}), now=0.0)
    assert {f.id for f in faults.active(1.999)} == {keep.id, short.id}
    assert [f.id for f in faults.expire(2.0)] == [short.id]
    assert [f.id for f in faults.active(1000.0)] == [keep.id]


def test_clear_one_and_all() -> None:
    faults = FaultSet()
    ids = [faults.add(parse_fault({"kind": "cpu"}), now=0.0).id for _ in range(3)]
    assert faults.remove(ids[1]) is not None
    assert faults.remove(ids[1]) is None
    assert faults.remove("f-nope") is None
    assert len(faults) == 2
    assert len(faults.clear()) == 2
    assert len(faults) == 0


def test_the_set_is_bounded() -> None:
    faults = FaultSet()
    for _ in range(MAX_ACTIVE_FAULTS):
        faults.add(parse_fault({"kind": "cpu", "intensity": 0.01}), now=0.0)
    with pytest.raises(TooManyFaults):
        faults.add(parse_fault({"kind": "cpu"}), now=0.0)
    # Expired faults make room again.
    faults.clear()
    faults.add(parse_fault({"kind": "cpu", "duration_s": 1}), now=0.0)
    assert len(faults.active(5.0)) == 0


# -- decisions ----------------------------------------------------------------------------
def _decide_many(faults: FaultSet, n: int = 2000, noise: NoiseConfig | None = None) -> list:
    rng = random.Random(1234)
    return [faults.decide(0.0, rng, noise) for _ in range(n)]


def test_no_faults_no_effect() -> None:
    assert all(d.untouched for d in _decide_many(FaultSet()))


def test_latency_with_probability_and_jitter() -> None:
    faults = FaultSet()
    faults.add(parse_fault({"kind": "latency", "ms": 100, "jitter_ms": 20, "probability": 0.5}), 0)
    decisions = _decide_many(faults)
    delayed = [d.delay_s for d in decisions if d.delay_s > 0]
    assert 0.45 < len(delayed) / len(decisions) < 0.55
    assert min(delayed) >= 0.08
    assert max(delayed) <= 0.12
    assert max(delayed) - min(delayed) > 0.03  # jitter really varies
    assert all(d.error_status is None and not d.hang for d in decisions)


def test_latency_faults_add_up() -> None:
    faults = FaultSet()
    faults.add(parse_fault({"kind": "latency", "ms": 100}), 0)
    faults.add(parse_fault({"kind": "latency", "ms": 50}), 0)
    assert {round(d.delay_s, 6) for d in _decide_many(faults, 50)} == {0.15}


def test_errors_rate_and_status() -> None:
    faults = FaultSet()
    faults.add(parse_fault({"kind": "errors", "rate": 0.25, "status": 503}), 0)
    decisions = _decide_many(faults)
    statuses = {d.error_status for d in decisions}
    assert statuses == {None, 503}
    share = sum(d.error_status == 503 for d in decisions) / len(decisions)
    assert 0.2 < share < 0.3


def test_hang_probability() -> None:
    faults = FaultSet()
    faults.add(parse_fault({"kind": "hang", "probability": 1}), 0)
    assert all(d.hang for d in _decide_many(faults, 100))
    faults.clear()
    faults.add(parse_fault({"kind": "hang", "probability": 0}), 0)
    assert not any(d.hang for d in _decide_many(faults, 100))


def test_expired_fault_stops_deciding() -> None:
    faults = FaultSet()
    faults.add(parse_fault({"kind": "errors", "rate": 1, "duration_s": 1}), now=0.0)
    rng = random.Random(0)
    assert faults.decide(0.5, rng).error_status == 500
    assert faults.decide(1.5, rng).error_status is None


def test_cpu_and_memory_targets() -> None:
    faults = FaultSet()
    assert faults.cpu_intensity(0) == 0.0
    faults.add(parse_fault({"kind": "cpu", "intensity": 0.6}), 0)
    faults.add(parse_fault({"kind": "cpu", "intensity": 0.6}), 0)
    assert faults.cpu_intensity(0) == 1.0  # capped at one core
    assert faults.memory_target(0, held_mb=0, elapsed_s=1) == 0.0
    faults.add(parse_fault({"kind": "memory", "mb_per_s": 10, "max_mb": 25}), 0)
    assert faults.memory_target(0, held_mb=0, elapsed_s=1) == 10.0
    assert faults.memory_target(0, held_mb=20, elapsed_s=1) == 25.0  # capped at max_mb
    assert faults.hanging(0) is False


# -- background noise ---------------------------------------------------------------------
def test_noise_disabled_does_nothing() -> None:
    noise = NoiseConfig(enabled=False, failure_rate=0.02, latency_spike_rate=0.02, spike_ms=100)
    assert all(d.untouched for d in _decide_many(FaultSet(), 3000, noise))


def test_noise_is_low_and_bounded() -> None:
    noise = NoiseConfig(enabled=True, failure_rate=0.01, latency_spike_rate=0.02, spike_ms=200)
    decisions = _decide_many(FaultSet(), 20000, noise)
    errors = sum(d.error_status == 500 for d in decisions) / len(decisions)
    spikes = [d.delay_s for d in decisions if d.delay_s > 0]
    assert 0.005 < errors < 0.015
    assert 0.015 < len(spikes) / len(decisions) < 0.025
    assert min(spikes) >= 0.1
    assert max(spikes) <= 0.2


def test_kinds_listed() -> None:
    assert set(KINDS) == {"latency", "errors", "cpu", "memory", "hang", "crash"}
