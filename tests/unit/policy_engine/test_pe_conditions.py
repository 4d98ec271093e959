"""The condition grammar: every operator, precedence, units, unknowns, and every error message."""

from __future__ import annotations

import pytest

from policy_engine.conditions import (
    And,
    Compare,
    ConditionError,
    Context,
    Not,
    Or,
    evaluate,
    evaluate3,
    metrics_of,
    parse,
)


def ctx(severity: str | None = None, no_data: bool = False, **values: float | None) -> Context:
    levels = {"normal": 0, "info": 1, "warning": 2, "critical": 3}
    return Context(
        values=values, severity=None if severity is None else levels[severity], no_data=no_data
    )


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("latency > 0.5", 0.6, True),
        ("latency > 0.5", 0.5, False),
        ("latency >= 0.5", 0.5, True),
        ("latency >= 0.5", 0.49, False),
        ("latency < 0.5", 0.4, True),
        ("latency < 0.5", 0.5, False),
        ("latency <= 0.5", 0.5, True),
        ("latency <= 0.5", 0.51, False),
        ("latency == 0.5", 0.5, True),
        ("latency == 0.5", 0.4, False),
        ("latency != 0.5", 0.4, True),
        ("latency != 0.5", 0.5, False),
    ],
)
def test_every_comparison_operator(condition: str, value: float, expected: bool) -> None:
    assert evaluate(parse(condition), ctx(latency=value)) is expected


@pytest.mark.parametrize(
    ("condition", "severity", "expected"),
    [
        ("severity >= warning", "warning", True),
        ("severity >= warning", "info", False),
        ("severity > warning", "critical", True),
        ("severity > warning", "warning", False),
        ("severity == critical", "critical", True),
        ("severity != normal", "normal", False),
        ("severity < warning", "info", True),
        ("severity <= info", "warning", False),
    ],
)
def test_severity_compares_by_order(condition: str, severity: str, expected: bool) -> None:
    assert evaluate(parse(condition), ctx(severity=severity)) is expected


def test_and_binds_tighter_than_or() -> None:
    node = parse("latency > 1 or cpu > 1 and memory > 1")
    assert isinstance(node, Or)
    assert isinstance(node.right, And)
    # latency true alone is enough; cpu alone is not
    assert evaluate(node, ctx(latency=2, cpu=0, memory=0))
    assert not evaluate(node, ctx(latency=0, cpu=2, memory=0))


def test_parentheses_override_precedence() -> None:
    node = parse("(latency > 1 or cpu > 1) and memory > 1")
    assert isinstance(node, And)
    assert not evaluate(node, ctx(latency=2, cpu=0, memory=0))
    assert evaluate(node, ctx(latency=2, cpu=0, memory=2))


def test_not_binds_tighter_than_and() -> None:
    node = parse("not latency > 1 and cpu > 1")
    assert isinstance(node, And)
    assert isinstance(node.left, Not)
    assert evaluate(node, ctx(latency=0, cpu=2))
    assert evaluate(parse("not not no_data"), ctx(no_data=True))


def test_no_data_flag() -> None:
    assert evaluate(parse("no_data"), ctx(no_data=True))
    assert not evaluate(parse("no_data"), ctx(no_data=False))
    assert evaluate(parse("no_data or severity >= critical"), ctx(severity="critical"))


def test_caused_by_dependency_flag() -> None:
    victim = Context(values={"error_rate": 0.6}, severity=3, caused_by_dependency=True)
    own = Context(values={"error_rate": 0.6}, severity=3)
    leave_victims = parse("error_rate > 0.1 and not caused_by_dependency")
    assert not evaluate(leave_victims, victim)
    assert evaluate(leave_victims, own)
    assert evaluate(parse("caused_by_dependency"), victim)
    with pytest.raises(ConditionError, match="'caused_by_dependency' is true or false on its own"):
        parse("caused_by_dependency == 1")


@pytest.mark.parametrize(
    ("condition", "value", "metric"),
    [
        ("latency > 500ms", 0.5, "latency"),
        ("latency > 2s", 2.0, "latency"),
        ("error_rate > 5%", 0.05, "error_rate"),
        ("memory > 300MB", 300e6, "memory"),
        ("memory > 1GiB", 1024.0**3, "memory"),
        ("memory > 512KiB", 512 * 1024.0, "memory"),
        ("memory > 2kb", 2000.0, "memory"),
        ("cpu > 1.5e-1", 0.15, "cpu"),
        ("availability < 99%", 0.99, "availability"),
        ("request_rate > .5", 0.5, "request_rate"),
    ],
)
def test_units_scale_numbers(condition: str, value: float, metric: str) -> None:
    node = parse(condition)
    assert isinstance(node, Compare)
    assert node.metric == metric
    assert node.value == pytest.approx(value)


def test_unknown_values_never_trigger_even_under_not() -> None:
    # three-valued logic: a missing metric is unknown, and unknown never acts
    assert evaluate3(parse("latency > 0.5"), ctx()) is None
    assert not evaluate(parse("not latency > 0.5"), ctx())
    assert not evaluate(parse("latency > 0.5"), ctx(latency=float("nan")))
    assert evaluate(parse("latency > 0.5 or cpu > 1"), ctx(cpu=2))  # true OR unknown = true
    assert evaluate3(parse("latency > 0.5 and cpu > 1"), ctx(cpu=0)) is False
    assert not evaluate(parse("severity >= info"), ctx())


def test_metrics_of_lists_read_metrics() -> None:
    assert metrics_of(parse("(latency > 1 or not cpu < 2) and severity >= info")) == {
        "latency",
        "cpu",
    }
    assert metrics_of(parse("no_data")) == set()


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("", "condition is empty"),
        ("   ", "condition is empty"),
        ("latency", "expected an operator (> >= < <= == !=) after 'latency', found 'end'"),
        ("latency = 0.5", "'=' is not an operator; use '==' to compare (at column 9)"),
        ("latency > -1", "negative numbers are not allowed"),
        ("latency > 5 parsecs", "unexpected 'parsecs' after a complete condition"),
        ("latency > 5xyz", "unknown unit 'xyz'"),
        ("latency > 0.5 and", "condition ends where a comparison was expected"),
        ("latency > 0.5 latency > 1", "unexpected 'latency' after a complete condition"),
        ("(latency > 0.5", "missing ')'"),
        ("latency > 0.5)", "unexpected ')' after a complete condition"),
        (")", "unexpected ')'"),
        ("latencyy > 0.5", "unknown metric 'latencyy' (known: latency, error_rate"),
        ("warning > 1", "'warning' is a severity word; compare it with 'severity'"),
        ("and latency > 1", "'and' needs a condition before it"),
        ("latency > fast", "'latency' must be compared with a number, found 'fast'"),
        ("latency > ", "'latency' must be compared with a number, found 'end'"),
        (
            "severity >= 2",
            "'severity' must be compared with one of normal, info, warning, critical",
        ),
        ("severity >= bad", "found 'bad'"),
        ("no_data == 1", "'no_data' is true or false on its own"),
        ("latency > 0.5 $", "unexpected character '$'"),
        ("latency > 5MB", "unit 'mb' does not fit 'latency' (latency is in seconds: use ms or s)"),
        ("memory > 5ms", "unit 'ms' does not fit 'memory'"),
        ("cpu > 5%", "unit '%' does not fit 'cpu' (cpu is unitless: use a plain number)"),
        ("error_rate > 5s", "error_rate is a ratio 0..1"),
        (
            "0.5 < latency",
            "expected a metric, 'severity' or a flag (no_data, caused_by_dependency, "
            "caused_by_load) but found '0.5'",
        ),
        ("latency > 1e999", "number is not finite"),
        ("(" * 40 + "no_data" + ")" * 40, "nests deeper than 32 levels"),
        ("not " * 40 + "no_data", "nests deeper than 32 levels"),
        ("latency > 1 or " * 100 + "no_data", "longer than 1000 characters"),
        ("__import__ > 1", "unknown metric '__import__'"),
        ("__import__('os')", "unexpected character '''"),
    ],
)
def test_error_messages(condition: str, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse(condition)
    assert message in str(info.value)


def test_error_carries_position() -> None:
    with pytest.raises(ConditionError) as info:
        parse("latency > 0.5 and foo > 1")
    assert info.value.position == 18
    assert "(at column 19)" in str(info.value)


def test_non_string_condition_rejected() -> None:
    with pytest.raises(ConditionError, match="must be a string"):
        parse(42)  # type: ignore[arg-type]
