"""policies.yml validation: the original format verbatim, the extensions, and precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.__main__ import validate
from policy_engine.policies import MAX_FILE_BYTES, load_policies, parse_duration, version_of

ORIGINAL = """
policies:
  - name: orders_high_latency_restart
    condition: "latency > 0.5"
    action: restart_container
    service: orders
    cooldown: 300
    enabled: true
"""
REPO = Path(__file__).resolve().parents[3]


def errors_of(text: str) -> list[tuple[str | None, str, str]]:
    active, errors = load_policies(text, "p.yml")
    assert active is None, "expected the file to be invalid"
    assert all(e.file == "p.yml" for e in errors)
    return [(e.policy, e.field, e.message) for e in errors]


def one_policy(**fields: object) -> str:
    base: dict[str, object] = {
        "name": "p1",
        "condition": "latency > 0.5",
        "action": "restart_container",
        "service": "orders",
    }
    base.update(fields)
    body = "\n".join(f"    {k}: {v}" for k, v in base.items() if v is not None)
    return "policies:\n  -\n" + body + "\n"


def test_original_format_loads_verbatim() -> None:
    active, errors = load_policies(ORIGINAL, "p.yml")
    assert errors == []
    assert active is not None
    (policy,) = active.policies
    assert (policy.name, policy.action, policy.service, policy.cooldown_s, policy.enabled) == (
        "orders_high_latency_restart",
        "restart_container",
        "orders",
        300.0,
        True,
    )
    assert policy.for_s == 0
    assert policy.dry_run is False
    assert policy.budget is None
    assert active.version == version_of(ORIGINAL.encode())
    assert active.version.startswith("sha256-")
    assert len(active.version) == len("sha256-") + 12


def test_extended_fields_and_settings() -> None:
    text = """
settings:
  budgets: {per_service: {max: 4, window: 30m}, global: {max: 10, window: 2h}}
  verification_window: 90s
  grace_period: 1m
  breaker: {failures: 2, open_for: 10m}
  alert_url: http://127.0.0.1:9/hook
  dry_run: true
policies:
  - name: scale
    condition: "cpu > 0.7 and (severity >= warning or not no_data)"
    for: 30s
    action: scale_up
    service: orders
    cooldown: 2m
    dry_run: true
    budget: {max: 3, window: 1h}
    params: {step: 2, min_replicas: 1, max_replicas: 4}
  - name: page
    condition: no_data
    action: alert
    service: users
    params: {url: "https://example.invalid/x", message: hi}
"""
    active, errors = load_policies(text, "p.yml")
    assert errors == []
    assert active is not None
    gs = active.settings
    assert gs.per_service_budget is not None
    assert gs.per_service_budget.max_actions == 4
    assert gs.per_service_budget.window_s == 1800
    assert gs.global_budget is not None
    assert gs.global_budget.window_s == 7200
    assert (gs.verification_window_s, gs.grace_period_s, gs.dry_run) == (90, 60, True)
    assert (gs.breaker.failures, gs.breaker.open_for_s) == (2, 600)
    scale = active.by_name("scale")
    assert scale is not None
    assert scale.for_s == 30
    assert scale.cooldown_s == 120
    assert scale.dry_run
    assert scale.params == {"step": 2, "min_replicas": 1, "max_replicas": 4}
    assert scale.budget is not None
    assert scale.budget.max_actions == 3
    page = active.by_name("page")
    assert page is not None
    assert page.params["url"] == "https://example.invalid/x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            one_policy(action="reboot_everything"),
            ("p1", "action", "unknown action 'reboot_everything' (known: restart_container"),
        ),
        (
            one_policy(condition='"lantency > 0.5"'),
            ("p1", "condition", "unknown metric 'lantency'"),
        ),
        (one_policy(condition='"latency => 0.5"'), ("p1", "condition", "'=' is not an operator")),
        (one_policy(condition="5"), ("p1", "condition", "must be a string, got a number")),
        (one_policy(cooldown=-5), ("p1", "cooldown", "must not be negative (got -5)")),
        (one_policy(cooldown="soon"), ("p1", "cooldown", "'soon' is not a duration")),
        (one_policy(cooldown="true"), ("p1", "cooldown", "not a boolean")),
        (one_policy(enabled='"yes"'), ("p1", "enabled", "must be true or false, got a string")),
        (one_policy(dry_run=1), ("p1", "dry_run", "must be true or false, got a number")),
        (one_policy(**{"for": "-1s"}), ("p1", "for", "is not a duration")),
        (one_policy(cooldwon=300), ("p1", "cooldwon", "unknown field")),
        (
            one_policy(service='"Orders Service"'),
            ("p1", "service", "must be a compose service name"),
        ),
        (one_policy(service=None), ("p1", "service", "is required")),
        (one_policy(name='"bad name!"'), ("bad name!", "name", "must be 1-100 letters")),
        (
            one_policy(params="{step: 2}"),
            ("p1", "params.step", "unknown parameter for restart_container"),
        ),
        (one_policy(params="{stop_timeout: 1h}"), ("p1", "params.stop_timeout", "at most 300 s")),
        (
            one_policy(action="scale_up", params="{step: 0}"),
            ("p1", "params.step", "must be between 1 and 20, got 0"),
        ),
        (
            one_policy(action="scale_up", params="{step: 1.5}"),
            ("p1", "params.step", "must be a whole number"),
        ),
        (
            one_policy(action="scale_down", params="{min_replicas: 4, max_replicas: 2}"),
            ("p1", "params.max_replicas", "min_replicas (4) is above max_replicas (2)"),
        ),
        (
            one_policy(action="alert", params="{url: ftp://x}"),
            ("p1", "params.url", "'ftp://x' is not an http(s) URL"),
        ),
        (one_policy(params="[1, 2]"), ("p1", "params", "must be a mapping, got a list")),
        (one_policy(budget="{max: 0}"), ("p1", "budget", "must be between 1 and 10000")),
        (one_policy(budget="{window: 1h}"), ("p1", "budget", "'max' is required")),
        (one_policy(budget="{max: 2, per: 1h}"), ("p1", "budget", "unknown key 'per'")),
        (one_policy(budget="{max: 2, window: 0}"), ("p1", "budget", "window must be longer")),
        ("policies: {}", (None, "policies", "must be a list, got a mapping")),
        ("polices: []", (None, "polices", "unknown top-level key")),
        ("settings: {}", (None, "policies", "is required")),
        ("- 1\n- 2", (None, "file", "must be a mapping with a 'policies' list, got a list")),
        ("", (None, "file", "got nothing")),
        ("policies: [1]", (None, "policies[0]", "must be a mapping, got a number")),
        ("policies:\n  - name: a\n    condition: [x\n", (None, "file", "not valid YAML at line")),
        (
            "settings: {budgets: {per_host: {max: 1}}}\npolicies: []",
            (None, "settings.budgets.per_host", "unknown budget"),
        ),
        (
            "settings: {breaker: {failures: 0}}\npolicies: []",
            (None, "settings.breaker", "between 1 and 100"),
        ),
        ("settings: {grace_period: -1}\npolicies: []", (None, "settings.grace_period", "negative")),
        (
            "settings: {verification_window: 0}\npolicies: []",
            (None, "settings.verification_window", "longer than 0"),
        ),
        ("settings: {alert_url: nope}\npolicies: []", (None, "settings.alert_url", "not an http")),
        ("settings: {dry_run: maybe}\npolicies: []", (None, "settings.dry_run", "true or false")),
        ("settings: {colour: red}\npolicies: []", (None, "settings.colour", "unknown setting")),
    ],
)
def test_validation_errors_name_policy_field_and_why(
    text: str, expected: tuple[str | None, str, str]
) -> None:
    found = errors_of(text)
    policy, field, message = expected
    assert any(p == policy and f == field and message in m for p, f, m in found), found


def test_duplicate_names_are_reported() -> None:
    text = ORIGINAL + ORIGINAL.replace("policies:\n", "")
    assert (
        "orders_high_latency_restart",
        "name",
        "duplicate policy name 'orders_high_latency_restart'",
    ) in errors_of(text)


def test_all_errors_are_collected() -> None:
    text = one_policy(action="nope", cooldown=-1, condition='"foo > 1"')
    fields = {f for _, f, _ in errors_of(text)}
    assert {"action", "cooldown", "condition"} <= fields


def test_missing_required_fields_each_reported() -> None:
    found = errors_of("policies:\n  - enabled: true\n")
    assert {f for _, f, m in found if m == "is required"} == {
        "name",
        "condition",
        "action",
        "service",
    }


def test_oversized_file_rejected() -> None:
    found = errors_of("#" * 1_000_001)
    assert found == [(None, "file", f"file is larger than {MAX_FILE_BYTES} bytes")]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (5, 5.0),
        (2.5, 2.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("45", 45.0),
    ],
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


def test_shipped_policies_file_is_valid_and_covers_every_service() -> None:
    text = (REPO / "policy_engine" / "policies.yml").read_bytes()
    active, errors = load_policies(text, "policies.yml")
    assert errors == []
    assert active is not None
    for service in ("orders", "users", "payments"):
        mine = [p for p in active.policies if p.service == service]
        covered = {m for p in mine for m in p.metrics}
        assert {"latency", "error_rate", "cpu", "memory"} <= covered
        actions = {p.action for p in mine}
        assert actions == {"restart_container", "scale_up", "scale_down", "alert"}
        assert any("no_data" in p.condition and p.action == "alert" for p in mine)
        assert all(p.cooldown_s >= 60 for p in mine)
        for p in mine:
            if p.action.startswith("scale"):
                assert (p.params["min_replicas"], p.params["max_replicas"]) == (1, 3)


def test_validate_cli_ok_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yml"
    good.write_text(ORIGINAL)
    assert validate(str(good)) == 0
    assert "OK, 1 policies" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text(one_policy(action="explode"))
    assert validate(str(bad)) == 1
    err = capsys.readouterr().err
    assert f"{bad}: policy 'p1', field 'action': unknown action 'explode'" in err
    assert validate(str(tmp_path / "missing.yml")) == 2
