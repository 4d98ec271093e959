"""policies.yml -> an immutable PolicySet, or a list of precise errors (pure)."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, SkipValidation, TypeAdapter
from pydantic import Field as PydanticField

from policy_engine.alert_match import ALERT_DEFAULT_CONDITION, AlertMatch, parse_alert_match
from policy_engine.conditions import ConditionError, Node, metrics_of, parse
from policy_engine.maintenance import MAX_WINDOWS, Window, parse_window
from policy_engine.params import DEFAULTS, AlertArgs, RestartArgs, ScaleArgs, args_of
from policy_engine.yaml_load import MAX_FILE_BYTES as MAX_FILE_BYTES
from policy_engine.yaml_load import YamlRejected, bounded, load_yaml

ACTIONS = ("restart_container", "scale_up", "scale_down", "alert")
DOCKER_ACTIONS = ("restart_container", "scale_up", "scale_down")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
POLICY_KEYS = {
    "name",
    "condition",
    "action",
    "service",
    "cooldown",
    "enabled",
    "for",
    "dry_run",
    "params",
    "budget",
    "description",
    "alert",
}
PARAM_KEYS: dict[str, set[str]] = {
    "restart_container": {"stop_timeout", "only_not_running"},
    "scale_up": {"step", "min_replicas", "max_replicas"},
    "scale_down": {"step", "min_replicas", "max_replicas"},
    "alert": {"url", "message"},
}
SETTINGS_KEYS = {
    "budgets",
    "verification_window",
    "grace_period",
    "breaker",
    "alert_url",
    "dry_run",
    "manual_cooldown",
    "target_cooldown",
    "allow_scale_to_zero",
}
DEFAULT_COOLDOWN_S = 300.0
assert set(DEFAULTS) == set(ACTIONS)
MAX_ERRORS = 50
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True)
class FieldError:
    """One validation problem: which file, policy (or None), field, and why."""

    file: str
    policy: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "policy": self.policy,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"policy '{self.policy}'" if self.policy else "file"
        return f"{self.file}: {where}, field '{self.field}': {self.message}"


@dataclass(frozen=True)
class Budget:
    """At most `max_actions` actions within a sliding `window_s`."""

    max_actions: int
    window_s: float

    def as_dict(self) -> dict[str, Any]:
        return {"max": self.max_actions, "window_s": self.window_s}


@dataclass(frozen=True)
class BreakerConfig:
    failures: int = 3
    open_for_s: float = 900.0


@dataclass(frozen=True)
class GlobalSettings:
    """The file's `settings:` block; None means "use the process setting"."""

    per_service_budget: Budget | None = Budget(6, 3600.0)
    global_budget: Budget | None = Budget(20, 3600.0)
    verification_window_s: float | None = None
    grace_period_s: float | None = None
    breaker: BreakerConfig = BreakerConfig()
    alert_url: str | None = None
    dry_run: bool = False
    manual_cooldown_s: float = 60.0
    # one cooldown per (target, action) across policies: one incident acts once per window
    target_cooldown: bool = True
    allow_scale_to_zero: bool = False  # else min_replicas must be >= 1


class _PolicyBase(BaseModel):
    """A validated policy; `action` picks the subclass and the type of its `args`."""

    model_config = ConfigDict(frozen=True)

    name: str
    condition: str
    ast: SkipValidation[Node] = PydanticField(exclude=True, repr=False)
    action: str
    args: RestartArgs | ScaleArgs | AlertArgs
    service: str
    cooldown_s: float = DEFAULT_COOLDOWN_S
    enabled: bool = True
    for_s: float = 0.0
    dry_run: bool = False
    budget: Budget | None = None
    description: str = ""
    alert: AlertMatch | None = None  # external Alertmanager alerts this policy acts on

    @property
    def metrics(self) -> set[str]:
        return metrics_of(self.ast)

    @property
    def params(self) -> dict[str, Any]:
        """The typed args as the audit log records them."""
        return self.args.as_params()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "condition": self.condition,
            "action": self.action,
            "service": self.service,
            "cooldown": self.cooldown_s,
            "enabled": self.enabled,
            "for": self.for_s,
            "dry_run": self.dry_run,
            "params": dict(self.params),
            "budget": self.budget.as_dict() if self.budget else None,
            "description": self.description,
            "alert": self.alert.as_dict() if self.alert else None,
        }


class RestartPolicy(_PolicyBase):
    action: Literal["restart_container"]
    args: RestartArgs = RestartArgs()


class ScalePolicy(_PolicyBase):
    action: Literal["scale_up", "scale_down"]
    args: ScaleArgs = ScaleArgs()


class AlertPolicy(_PolicyBase):
    action: Literal["alert"]
    args: AlertArgs = AlertArgs()


Policy = Annotated[RestartPolicy | ScalePolicy | AlertPolicy, PydanticField(discriminator="action")]
_POLICY: TypeAdapter[Policy] = TypeAdapter(Policy)


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]
    settings: GlobalSettings
    version: str
    file: str
    maintenance: tuple[Window, ...] = ()

    def by_name(self, name: str) -> Policy | None:
        return next((p for p in self.policies if p.name == name), None)


def version_of(text: bytes) -> str:
    """Policy version: a short hash of the file's bytes."""
    return "sha256-" + hashlib.sha256(text).hexdigest()[:12]


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like '500ms', '30s', '5m', '1h', '1d'."""
    if isinstance(value, bool):
        raise ValueError("must be a duration (seconds or '30s', '5m', '1h'), not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"'{value}' is not a duration (use seconds or '30s', '5m', '1h')")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f"must be a duration (seconds or '30s', '5m', '1h'), got {_kind(value)}")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite duration")
    if seconds < 0:
        raise ValueError(f"must not be negative (got {value})")
    return seconds


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[FieldError] = []

    def add(self, policy: str | None, field_name: str, message: str) -> None:
        # bounded: a hostile file must not be echoed back (huge names, values, many errors)
        if len(self.errors) > MAX_ERRORS:
            return
        if len(self.errors) == MAX_ERRORS:
            policy, field_name, message = None, "file", f"more than {MAX_ERRORS} errors"
        label = None if policy is None else bounded(policy, 100)
        self.errors.append(FieldError(self.file, label, bounded(field_name, 100), bounded(message)))


def _int_in(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, got {_kind(value)} {value!r}")
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, got {value}")
    return value


def validate_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be an http(s) URL string, got {_kind(value)}")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def validate_params(action: str, raw: Any, allow_scale_to_zero: bool = False) -> dict[str, Any]:
    """Typed, defaulted parameters for an action; raises ValueError('field: why')."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"params: must be a mapping, got {_kind(raw)}")
    unknown = sorted(set(map(str, raw)) - PARAM_KEYS[action])
    if unknown:
        allowed = ", ".join(sorted(PARAM_KEYS[action])) or "none"
        raise ValueError(
            f"params.{unknown[0]}: unknown parameter for {action} (allowed: {allowed})"
        )
    out: dict[str, Any] = {}
    try:
        if action == "restart_container":
            key = "stop_timeout"
            timeout = parse_duration(raw.get(key, RestartArgs().stop_timeout_s))
            if timeout > 300:
                raise ValueError(f"must be at most 300 s, got {timeout}")
            out["stop_timeout_s"] = timeout
            key = "only_not_running"
            only = raw.get(key, False)
            if not isinstance(only, bool):
                raise ValueError(f"must be true or false, got {_kind(only)}")
            if only:
                out["only_not_running"] = True
        elif action in ("scale_up", "scale_down"):
            key = "step"
            scale = ScaleArgs()
            out["step"] = _int_in(raw.get(key, scale.step), 1, 20)
            key = "min_replicas"
            out["min_replicas"] = _int_in(raw.get(key, scale.min_replicas), 0, 50)
            if out["min_replicas"] == 0 and not allow_scale_to_zero:
                raise ValueError("must be at least 1 (settings.allow_scale_to_zero: true allows 0)")
            key = "max_replicas"
            out["max_replicas"] = _int_in(raw.get(key, scale.max_replicas), 1, 50)
            if out["min_replicas"] > out["max_replicas"]:
                raise ValueError(
                    f"min_replicas ({out['min_replicas']}) is above max_replicas "
                    f"({out['max_replicas']})"
                )
        else:
            key = "url"
            if raw.get(key) is not None:
                out["url"] = validate_url(raw[key])
            key = "message"
            message = raw.get(key, AlertArgs().message)
            if not isinstance(message, str):
                raise ValueError(f"must be a string, got {_kind(message)}")
            out["message"] = message
    except ValueError as exc:
        raise ValueError(f"params.{key}: {exc}") from None
    return args_of(action, out).as_params()


def _budget(raw: Any) -> Budget:
    if not isinstance(raw, dict):
        raise ValueError(f"must be a mapping like {{max: 3, window: 1h}}, got {_kind(raw)}")
    unknown = sorted(set(map(str, raw)) - {"max", "window"})
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (allowed: max, window)")
    if "max" not in raw:
        raise ValueError("'max' is required")
    max_actions = _int_in(raw["max"], 1, 10_000)
    window = parse_duration(raw.get("window", 3600))
    if window <= 0:
        raise ValueError("window must be longer than 0 s")
    return Budget(max_actions, window)


def _settings(raw: Any, errors: _Collector) -> GlobalSettings:
    if raw is None:
        return GlobalSettings()
    if not isinstance(raw, dict):
        errors.add(None, "settings", f"must be a mapping, got {_kind(raw)}")
        return GlobalSettings()
    for key in sorted(set(map(str, raw)) - SETTINGS_KEYS):
        errors.add(
            None,
            f"settings.{key}",
            f"unknown setting (allowed: {', '.join(sorted(SETTINGS_KEYS))})",
        )
    kwargs: dict[str, Any] = {}
    budgets = raw.get("budgets")
    if budgets is not None:
        if not isinstance(budgets, dict):
            errors.add(None, "settings.budgets", f"must be a mapping, got {_kind(budgets)}")
        else:
            for key in sorted(set(map(str, budgets)) - {"per_service", "global"}):
                errors.add(
                    None, f"settings.budgets.{key}", "unknown budget (allowed: per_service, global)"
                )
            for key, attr in (("per_service", "per_service_budget"), ("global", "global_budget")):
                if key in budgets:
                    try:
                        kwargs[attr] = None if budgets[key] is None else _budget(budgets[key])
                    except ValueError as exc:
                        errors.add(None, f"settings.budgets.{key}", str(exc))
    for key, attr in (
        ("verification_window", "verification_window_s"),
        ("grace_period", "grace_period_s"),
        ("manual_cooldown", "manual_cooldown_s"),
    ):
        if raw.get(key) is not None:
            try:
                kwargs[attr] = parse_duration(raw[key])
            except ValueError as exc:
                errors.add(None, f"settings.{key}", str(exc))
    if kwargs.get("verification_window_s") == 0:
        errors.add(None, "settings.verification_window", "must be longer than 0 s")
    breaker = raw.get("breaker")
    if breaker is not None:
        try:
            if not isinstance(breaker, dict):
                raise ValueError(f"must be a mapping, got {_kind(breaker)}")
            unknown = sorted(set(map(str, breaker)) - {"failures", "open_for"})
            if unknown:
                raise ValueError(f"unknown key '{unknown[0]}' (allowed: failures, open_for)")
            kwargs["breaker"] = BreakerConfig(
                _int_in(breaker.get("failures", 3), 1, 100),
                parse_duration(breaker.get("open_for", 900)),
            )
        except ValueError as exc:
            errors.add(None, "settings.breaker", str(exc))
    if raw.get("alert_url") is not None:
        try:
            kwargs["alert_url"] = validate_url(raw["alert_url"])
        except ValueError as exc:
            errors.add(None, "settings.alert_url", str(exc))
    for key in ("dry_run", "target_cooldown", "allow_scale_to_zero"):
        if key in raw:
            if isinstance(raw[key], bool):
                kwargs[key] = raw[key]
            else:
                errors.add(None, f"settings.{key}", f"must be true or false, got {_kind(raw[key])}")
    return GlobalSettings(**kwargs)


def _policy(
    index: int, raw: Any, errors: _Collector, settings: GlobalSettings = GlobalSettings()
) -> Policy | None:
    if not isinstance(raw, dict):
        errors.add(None, f"policies[{index}]", f"must be a mapping, got {_kind(raw)}")
        return None
    name_raw = raw.get("name")
    label = name_raw if isinstance(name_raw, str) and name_raw else f"policies[{index}]"
    before = len(errors.errors)

    def bad(field_name: str, message: str) -> None:
        errors.add(label, field_name, message)

    for key in sorted(set(map(str, raw)) - POLICY_KEYS):
        bad(key, f"unknown field (allowed: {', '.join(sorted(POLICY_KEYS))})")
    alert_match: AlertMatch | None = None
    if raw.get("alert") is not None:
        try:
            alert_match = parse_alert_match(raw["alert"])
        except ValueError as exc:
            bad("alert", str(exc))
    if alert_match is not None and raw.get("condition") is None:
        raw = {**raw, "condition": ALERT_DEFAULT_CONDITION}
    for required in ("name", "condition", "action", "service"):
        if raw.get(required) is None:
            bad(required, "is required")
    if name_raw is not None and (not isinstance(name_raw, str) or not NAME_RE.match(name_raw)):
        bad("name", "must be 1-100 letters, digits, '_', '.', '-' starting with a letter or digit")
    action = raw.get("action")
    if action is not None and action not in ACTIONS:
        bad("action", f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    service = raw.get("service")
    if service is not None and (not isinstance(service, str) or not NAME_RE.match(service)):
        bad("service", f"must be a compose service name, got {service!r}")
    ast: Node | None = None
    condition = raw.get("condition")
    if condition is not None:
        if not isinstance(condition, str):
            bad("condition", f"must be a string, got {_kind(condition)}")
        else:
            try:
                ast = parse(condition)
            except ConditionError as exc:
                bad("condition", str(exc))
    durations: dict[str, float] = {}
    for key, default in (("cooldown", DEFAULT_COOLDOWN_S), ("for", 0.0)):
        try:
            durations[key] = parse_duration(raw[key]) if raw.get(key) is not None else default
        except ValueError as exc:
            bad(key, str(exc))
    flags: dict[str, bool] = {}
    for key, default_flag in (("enabled", True), ("dry_run", False)):
        value = raw.get(key, default_flag)
        if not isinstance(value, bool):
            bad(key, f"must be true or false, got {_kind(value)} {value!r}")
        else:
            flags[key] = value
    params: dict[str, Any] = {}
    if isinstance(action, str) and action in ACTIONS:
        try:
            params = validate_params(action, raw.get("params"), settings.allow_scale_to_zero)
        except ValueError as exc:
            field_name, _, message = str(exc).partition(": ")
            bad(field_name, message)
    budget = None
    if raw.get("budget") is not None:
        try:
            budget = _budget(raw["budget"])
        except ValueError as exc:
            bad("budget", str(exc))
    if alert_match is not None and durations.get("for"):
        bad("for", "an alert: policy acts when the alert fires; Alertmanager's `for` already waits")
    description = raw.get("description", "")
    if not isinstance(description, str):
        bad("description", f"must be a string, got {_kind(description)}")
    if len(errors.errors) > before or ast is None:
        return None
    return _POLICY.validate_python(
        {
            "name": str(name_raw),
            "condition": str(condition),
            "ast": ast,
            "action": str(action),
            "service": str(service),
            "cooldown_s": durations["cooldown"],
            "enabled": flags["enabled"],
            "for_s": durations["for"],
            "dry_run": flags["dry_run"],
            "args": params,
            "budget": budget,
            "description": str(description),
            "alert": alert_match,
        }
    )


def load_policies(text: bytes | str, file: str) -> tuple[PolicySet | None, list[FieldError]]:
    """Validate a policies file's content; a PolicySet only when there is no error at all."""
    data = text.encode() if isinstance(text, str) else text
    errors = _Collector(file)
    if len(data) > MAX_FILE_BYTES:
        errors.add(None, "file", f"file is larger than {MAX_FILE_BYTES} bytes")
        return None, errors.errors
    try:
        doc = load_yaml(data)
    except YamlRejected as exc:
        errors.add(None, "file", str(exc))
        return None, errors.errors
    if not isinstance(doc, dict):
        errors.add(None, "file", f"must be a mapping with a 'policies' list, got {_kind(doc)}")
        return None, errors.errors
    for key in sorted(set(map(str, doc)) - {"policies", "settings", "maintenance"}):
        errors.add(None, key, "unknown top-level key (allowed: maintenance, policies, settings)")
    raw_policies = doc.get("policies")
    if raw_policies is None:
        errors.add(None, "policies", "is required (a list of policies)")
        raw_policies = []
    elif not isinstance(raw_policies, list):
        errors.add(None, "policies", f"must be a list, got {_kind(raw_policies)}")
        raw_policies = []
    settings = _settings(doc.get("settings"), errors)
    policies: list[Policy] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_policies):
        policy = _policy(index, raw, errors, settings)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str):
            if name in seen:
                errors.add(name, "name", f"duplicate policy name '{name}'")
            seen.add(name)
        if policy is not None:
            policies.append(policy)
    windows = _maintenance(doc.get("maintenance"), errors)
    if errors.errors:
        return None, errors.errors
    return PolicySet(tuple(policies), settings, version_of(data), file, windows), []


def _maintenance(raw: Any, errors: _Collector) -> tuple[Window, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "maintenance", f"must be a list of windows, got {_kind(raw)}")
        return ()
    if len(raw) > MAX_WINDOWS:
        errors.add(None, "maintenance", f"at most {MAX_WINDOWS} windows")
        return ()
    out = []
    for index, item in enumerate(raw):
        try:
            out.append(parse_window(item, index))
        except ValueError as exc:
            field_name, _, message = str(exc).partition(": ")
            errors.add(None, f"maintenance[{index}].{field_name}", message)
    return tuple(out)
