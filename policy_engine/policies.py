"""policies.yml -> an immutable PolicySet, or a list of precise errors (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import TypeAdapter

from policy_engine.alert_match import ALERT_DEFAULT_CONDITION, parse_alert_match
from policy_engine.conditions import ConditionError, Node, parse
from policy_engine.maintenance import MAX_WINDOWS, Window, parse_window
from policy_engine.policy_fields import Collector, kind
from policy_engine.policy_fields import FieldError as FieldError
from policy_engine.policy_fields import parse_duration as parse_duration
from policy_engine.policy_fields import validate_params as validate_params
from policy_engine.policy_model import ACTIONS as ACTIONS
from policy_engine.policy_model import DEFAULT_COOLDOWN_S as DEFAULT_COOLDOWN_S
from policy_engine.policy_model import DOCKER_ACTIONS as DOCKER_ACTIONS
from policy_engine.policy_model import NAME_RE as NAME_RE
from policy_engine.policy_model import NAME_RULE as NAME_RULE
from policy_engine.policy_model import AlertPolicy as AlertPolicy
from policy_engine.policy_model import Policy as Policy
from policy_engine.policy_model import PolicySet as PolicySet
from policy_engine.policy_model import RestartPolicy as RestartPolicy
from policy_engine.policy_model import ScalePolicy as ScalePolicy
from policy_engine.policy_model import version_of as version_of
from policy_engine.policy_settings import BreakerConfig as BreakerConfig
from policy_engine.policy_settings import Budget as Budget
from policy_engine.policy_settings import GlobalSettings as GlobalSettings
from policy_engine.policy_settings import parse_budget, parse_settings
from policy_engine.yaml_load import MAX_FILE_BYTES as MAX_FILE_BYTES
from policy_engine.yaml_load import YamlRejected, load_yaml

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
T = TypeVar("T")
_POLICY: TypeAdapter[Policy] = TypeAdapter(Policy)


class _PolicyReader:
    """Reads one `policies[]` entry field by field; every bad field is an error naming it."""

    def __init__(self, raw: dict[Any, Any], label: str, errors: Collector) -> None:
        self.raw, self.label, self.errors = raw, label, errors

    def bad(self, field_name: str, message: str) -> None:
        self.errors.add(self.label, field_name, message)

    def checked(self, field_name: str, check: Callable[[Any], T], value: Any) -> T | None:
        """`check(value)`, or None after recording why it failed."""
        try:
            return check(value)
        except ValueError as exc:
            self.bad(field_name, str(exc))
            return None

    def known_fields(self) -> None:
        for key in sorted(set(map(str, self.raw)) - POLICY_KEYS):
            self.bad(key, f"unknown field (allowed: {', '.join(sorted(POLICY_KEYS))})")

    def names(self) -> None:
        """The required fields present, and the name, action and service well formed."""
        raw = self.raw
        for required in ("name", "condition", "action", "service"):
            if raw.get(required) is None:
                self.bad(required, "is required")
        name = raw.get("name")
        if name is not None and not _is_name(name):
            self.bad(
                "name",
                "must be 1-100 letters, digits, '_', '.', '-' starting with a letter or digit",
            )
        action = raw.get("action")
        if action is not None and action not in ACTIONS:
            self.bad("action", f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
        service = raw.get("service")
        if service is not None and not _is_name(service):
            self.bad("service", f"must be a compose service name, got {service!r}")

    def condition(self) -> Node | None:
        condition = self.raw.get("condition")
        if condition is None:
            return None
        if not isinstance(condition, str):
            self.bad("condition", f"must be a string, got {kind(condition)}")
            return None
        try:
            return parse(condition)
        except ConditionError as exc:
            self.bad("condition", str(exc))
            return None

    def duration(self, key: str, default: float) -> float | None:
        if self.raw.get(key) is None:
            return default
        return self.checked(key, parse_duration, self.raw[key])

    def flag(self, key: str, default: bool) -> bool | None:
        value = self.raw.get(key, default)
        if isinstance(value, bool):
            return value
        self.bad(key, f"must be true or false, got {kind(value)} {value!r}")
        return None

    def params(self, allow_scale_to_zero: bool) -> dict[str, Any]:
        action = self.raw.get("action")
        if not isinstance(action, str) or action not in ACTIONS:
            return {}
        try:
            return validate_params(action, self.raw.get("params"), allow_scale_to_zero)
        except ValueError as exc:
            field_name, _, message = str(exc).partition(": ")
            self.bad(field_name, message)
            return {}

    def text(self, key: str) -> str:
        value = self.raw.get(key, "")
        if not isinstance(value, str):
            self.bad(key, f"must be a string, got {kind(value)}")
            return ""
        return value


_DEFAULT_SETTINGS = GlobalSettings()


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and NAME_RE.match(value) is not None


def _policy(
    index: int, raw: Any, errors: Collector, settings: GlobalSettings = _DEFAULT_SETTINGS
) -> Policy | None:
    if not isinstance(raw, dict):
        errors.add(None, f"policies[{index}]", f"must be a mapping, got {kind(raw)}")
        return None
    name = raw.get("name")
    label = name if isinstance(name, str) and name else f"policies[{index}]"
    before = len(errors.errors)
    first = _PolicyReader(raw, label, errors)
    first.known_fields()
    alert_match = None
    if raw.get("alert") is not None:
        alert_match = first.checked("alert", parse_alert_match, raw["alert"])
    if alert_match is not None and raw.get("condition") is None:
        raw = {**raw, "condition": ALERT_DEFAULT_CONDITION}
    read = _PolicyReader(raw, label, errors)
    read.names()
    fields: dict[str, Any] = {
        "ast": read.condition(),
        "cooldown_s": read.duration("cooldown", DEFAULT_COOLDOWN_S),
        "for_s": read.duration("for", 0.0),
        "enabled": read.flag("enabled", True),
        "dry_run": read.flag("dry_run", False),
        "args": read.params(settings.allow_scale_to_zero),
        "budget": read.checked("budget", parse_budget, raw["budget"])
        if raw.get("budget") is not None
        else None,
    }
    if alert_match is not None and fields["for_s"]:
        read.bad(
            "for", "an alert: policy acts when the alert fires; Alertmanager's `for` already waits"
        )
    fields["description"] = read.text("description")
    if len(errors.errors) > before or fields["ast"] is None:
        return None
    return _POLICY.validate_python(
        {
            **fields,
            "name": str(name),
            "condition": str(raw["condition"]),
            "action": str(raw["action"]),
            "service": str(raw["service"]),
            "alert": alert_match,
        }
    )


def load_policies(text: bytes | str, file: str) -> tuple[PolicySet | None, list[FieldError]]:
    """Validate a policies file's content; a PolicySet only when there is no error at all."""
    data = text.encode() if isinstance(text, str) else text
    errors = Collector(file)
    doc = _document(data, errors)
    if doc is None:
        return None, errors.errors
    for key in sorted(set(map(str, doc)) - {"policies", "settings", "maintenance"}):
        errors.add(None, key, "unknown top-level key (allowed: maintenance, policies, settings)")
    settings = parse_settings(doc.get("settings"), errors)
    policies = _policies(doc.get("policies"), errors, settings)
    windows = _maintenance(doc.get("maintenance"), errors)
    if errors.errors:
        return None, errors.errors
    return PolicySet(tuple(policies), settings, version_of(data), file, windows), []


def _document(data: bytes, errors: Collector) -> dict[Any, Any] | None:
    """The file's top-level mapping, or None after recording why there is none."""
    if len(data) > MAX_FILE_BYTES:
        errors.add(None, "file", f"file is larger than {MAX_FILE_BYTES} bytes")
        return None
    try:
        doc = load_yaml(data)
    except YamlRejected as exc:
        errors.add(None, "file", str(exc))
        return None
    if not isinstance(doc, dict):
        errors.add(None, "file", f"must be a mapping with a 'policies' list, got {kind(doc)}")
        return None
    return doc


def _policies(raw: Any, errors: Collector, settings: GlobalSettings) -> list[Policy]:
    if raw is None:
        errors.add(None, "policies", "is required (a list of policies)")
        return []
    if not isinstance(raw, list):
        errors.add(None, "policies", f"must be a list, got {kind(raw)}")
        return []
    policies: list[Policy] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        policy = _policy(index, entry, errors, settings)
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                errors.add(name, "name", f"duplicate policy name '{name}'")
            seen.add(name)
        if policy is not None:
            policies.append(policy)
    return policies


def _maintenance(raw: Any, errors: Collector) -> tuple[Window, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "maintenance", f"must be a list of windows, got {kind(raw)}")
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
