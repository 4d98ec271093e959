import pytest

from chaos_simulator.faults import FaultError, build_fault, parse_assignments


def test_valid_faults_become_api_bodies() -> None:
    assert build_fault("latency", {"ms": "800", "jitter_ms": 50}) == {
        "kind": "latency",
        "ms": 800.0,
        "jitter_ms": 50.0,
    }
    assert build_fault("errors", {"rate": 0.5, "status": "503"}, duration_s=30) == {
        "kind": "errors",
        "rate": 0.5,
        "status": 503,
        "duration_s": 30,
    }
    assert build_fault("crash", {}) == {"kind": "crash"}
    assert build_fault("cpu", {"intensity": 1}) == {"kind": "cpu", "intensity": 1.0}


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("latency", {}, "--ms is required"),
        ("latency", {"ms": 0}, "ms must be > 0"),
        ("latency", {"ms": "fast"}, "ms must be a number"),
        ("latency", {"ms": "nan"}, "must be finite"),
        ("latency", {"ms": 10, "probability": 1.5}, "probability must be <= 1"),
        ("errors", {"rate": 0.1, "status": 404}, "status must be >= 500"),
        ("errors", {"rate": 0.1, "status": "5xx"}, "status must be an integer"),
        ("memory", {"mb_per_s": 5, "bogus": 1}, "unknown parameter"),
        ("teleport", {}, "unknown fault kind"),
        # the services' bounds (relia_contracts.faults), not a copy that drifted
        ("latency", {"ms": 60_001}, "ms must be <= 60000"),
        ("memory", {"mb_per_s": 5, "max_mb": 512.5}, "max_mb must be an integer"),
        ("memory", {"mb_per_s": 5, "max_mb": 9000}, "max_mb must be <= 8192"),
        ("cpu", {"intensity": 0}, "intensity must be > 0"),
    ],
)
def test_bad_faults_are_refused_with_the_reason(kind: str, params: dict, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        build_fault(kind, params)


def test_bad_duration_is_refused() -> None:
    with pytest.raises(FaultError, match="duration"):
        build_fault("hang", {}, duration_s=0)


def test_parse_assignments() -> None:
    assert parse_assignments(["ms=5", "jitter-ms = 2"]) == {"ms": "5", "jitter_ms": "2"}
    with pytest.raises(FaultError, match="key=value"):
        parse_assignments(["ms"])


def test_every_body_the_cli_builds_is_one_the_services_accept() -> None:
    from relia_contracts.faults import FAULT_SPEC_ADAPTER

    bodies = [
        build_fault("latency", {"ms": "60000", "jitter_ms": 0, "probability": 1}),
        build_fault("memory", {"mb_per_s": 0.5, "max_mb": 8192.0}),
        build_fault("errors", {"rate": 1, "status": 599}, duration_s=1),
        build_fault("crash", {"exit_code": 255}),
    ]
    for body in bodies:
        assert FAULT_SPEC_ADAPTER.validate_python(body).kind == body["kind"]
