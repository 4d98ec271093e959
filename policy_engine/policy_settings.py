"""The policies file's `settings:` block -> GlobalSettings, with an error per bad field (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from policy_engine.policy_fields import (
    Collector,
    boolean,
    int_in,
    kind,
    parse_duration,
    validate_url,
)

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
_DURATIONS = (
    ("verification_window", "verification_window_s"),
    ("grace_period", "grace_period_s"),
    ("manual_cooldown", "manual_cooldown_s"),
)
_BUDGETS = (("per_service", "per_service_budget"), ("global", "global_budget"))
_FLAGS = ("dry_run", "target_cooldown", "allow_scale_to_zero")


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


def _mapping(raw: Any, allowed: tuple[str, ...], like: str = "") -> dict[Any, Any]:
    """`raw` when it is a mapping of only the `allowed` keys; else a ValueError saying why."""
    if not isinstance(raw, dict):
        raise ValueError(f"must be a mapping{like}, got {kind(raw)}")
    unknown = sorted(set(map(str, raw)) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (allowed: {', '.join(allowed)})")
    return raw


def parse_budget(raw: Any) -> Budget:
    raw = _mapping(raw, ("max", "window"), " like {max: 3, window: 1h}")
    if "max" not in raw:
        raise ValueError("'max' is required")
    max_actions = int_in(raw["max"], 1, 10_000)
    window = parse_duration(raw.get("window", 3600))
    if window <= 0:
        raise ValueError("window must be longer than 0 s")
    return Budget(max_actions, window)


def _optional_budget(raw: Any) -> Budget | None:
    return None if raw is None else parse_budget(raw)


def _breaker(raw: Any) -> BreakerConfig:
    raw = _mapping(raw, ("failures", "open_for"))
    return BreakerConfig(
        int_in(raw.get("failures", 3), 1, 100), parse_duration(raw.get("open_for", 900))
    )


class _Reader:
    """Collects the GlobalSettings arguments; a bad value is an error naming its field."""

    def __init__(self, errors: Collector) -> None:
        self.errors = errors
        self.kwargs: dict[str, Any] = {}

    def put(self, attr: str, field: str, check: Callable[[Any], Any], value: Any) -> None:
        try:
            self.kwargs[attr] = check(value)
        except ValueError as exc:
            self.errors.add(None, field, str(exc))


def _unknown_keys(
    raw: dict[Any, Any], allowed: tuple[str, ...], where: str, noun: str, errors: Collector
) -> None:
    for key in sorted(set(map(str, raw)) - set(allowed)):
        errors.add(None, f"{where}.{key}", f"unknown {noun} (allowed: {', '.join(allowed)})")


def _budgets(raw: Any, reader: _Reader) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        reader.errors.add(None, "settings.budgets", f"must be a mapping, got {kind(raw)}")
        return
    _unknown_keys(raw, ("per_service", "global"), "settings.budgets", "budget", reader.errors)
    for key, attr in _BUDGETS:
        if key in raw:
            reader.put(attr, f"settings.budgets.{key}", _optional_budget, raw[key])


def parse_settings(raw: Any, errors: Collector) -> GlobalSettings:
    if raw is None:
        return GlobalSettings()
    if not isinstance(raw, dict):
        errors.add(None, "settings", f"must be a mapping, got {kind(raw)}")
        return GlobalSettings()
    _unknown_keys(raw, tuple(sorted(SETTINGS_KEYS)), "settings", "setting", errors)
    reader = _Reader(errors)
    _budgets(raw.get("budgets"), reader)
    for key, attr in _DURATIONS:
        if raw.get(key) is not None:
            reader.put(attr, f"settings.{key}", parse_duration, raw[key])
    if reader.kwargs.get("verification_window_s") == 0:
        errors.add(None, "settings.verification_window", "must be longer than 0 s")
    for key, check in (("breaker", _breaker), ("alert_url", validate_url)):
        if raw.get(key) is not None:
            reader.put(key, f"settings.{key}", check, raw[key])
    for key in _FLAGS:
        if key in raw:
            reader.put(key, f"settings.{key}", boolean, raw[key])
    return GlobalSettings(**reader.kwargs)
