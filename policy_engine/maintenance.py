"""Maintenance windows from policies.yml (pure): parsing and "is this service in one now?".

    maintenance:
      - name: db-migration                 # absolute range (RFC 3339, offset required)
        services: [orders]                 # omitted or ["*"]: every service
        start: "2026-12-01T22:00:00+01:00"
        end: "2026-12-02T01:30:00+01:00"
      - name: weekly-patching              # weekly, in a time zone (IANA name)
        services: [payments]
        weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Europe/Berlin}

A weekly window whose end is not after its start crosses midnight: it starts on a listed day
and ends the next day. Times are wall-clock times in the zone, so a window keeps its local hours
across DST changes; a start or end that falls in a spring-forward gap resolves as zoneinfo does
(fold=0: the wall time is read with the offset before the change, i.e. one hour later in UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WINDOW_KEYS = {"name", "services", "start", "end", "weekly"}
WEEKLY_KEYS = {"days", "start", "end", "timezone"}
MAX_WINDOWS = 100


@dataclass(frozen=True)
class Weekly:
    days: tuple[int, ...]  # 0 = Monday
    start: time
    end: time
    timezone: str


@dataclass(frozen=True)
class Window:
    name: str
    services: tuple[str, ...]  # ("*",) = all
    start: float | None = None  # absolute range (epoch seconds)
    end: float | None = None
    weekly: Weekly | None = None

    def covers_service(self, service: str) -> bool:
        return "*" in self.services or service in self.services

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "services": list(self.services)}
        if self.weekly is not None:
            w = self.weekly
            out["weekly"] = {
                "days": [DAYS[d] for d in w.days],
                "start": w.start.strftime("%H:%M"),
                "end": w.end.strftime("%H:%M"),
                "timezone": w.timezone,
            }
        else:
            out["start"], out["end"] = self.start, self.end
        return out


def _occurrences(w: Weekly, now: datetime) -> list[tuple[datetime, datetime]]:
    """The window's occurrences that may contain `now`: starting today or yesterday (local)."""
    tz = ZoneInfo(w.timezone)
    today = now.astimezone(tz).date()
    out = []
    for day in (today - timedelta(days=1), today):
        if day.weekday() not in w.days:
            continue
        begin = datetime.combine(day, w.start, tzinfo=tz)
        end_day: date = day if w.end > w.start else day + timedelta(days=1)
        out.append((begin, datetime.combine(end_day, w.end, tzinfo=tz)))
    return out


def window_bounds(window: Window, now: float) -> tuple[float, float] | None:
    """(start, end) of the occurrence of `window` containing `now` (epoch seconds), or None."""
    if window.weekly is None:
        assert window.start is not None
        assert window.end is not None
        return (window.start, window.end) if window.start <= now < window.end else None
    moment = datetime.fromtimestamp(now).astimezone()
    for begin, end in _occurrences(window.weekly, moment):
        if begin.timestamp() <= now < end.timestamp():
            return begin.timestamp(), end.timestamp()
    return None


def active_window(windows: tuple[Window, ...], service: str, now: float) -> Window | None:
    """The first window covering `service` at `now` (epoch seconds), or None."""
    for window in windows:
        if window.covers_service(service) and window_bounds(window, now) is not None:
            return window
    return None


# parsing --------------------------------------------------------------------------------------


def _hhmm(value: Any, field: str) -> time:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"{field}: must be a time 'HH:MM' (24 h), got {value!r}")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _instant(value: Any, field: str) -> float:
    if isinstance(value, datetime):  # YAML may already have parsed a timestamp
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{field}: '{value}' is not an RFC 3339 time") from None
    else:
        raise ValueError(f"{field}: must be an RFC 3339 time string, got {value!r}")
    if moment.tzinfo is None:
        raise ValueError(f"{field}: needs a UTC offset or Z ('{value}' is ambiguous)")
    return moment.timestamp()


def _weekly(raw: Any) -> Weekly:
    if not isinstance(raw, dict):
        raise ValueError("weekly: must be a mapping {days, start, end, timezone}")
    unknown = sorted(set(map(str, raw)) - WEEKLY_KEYS)
    if unknown:
        raise ValueError(
            f"weekly.{unknown[0]}: unknown key (allowed: {', '.join(sorted(WEEKLY_KEYS))})"
        )
    for key in sorted(WEEKLY_KEYS):
        if key not in raw:
            raise ValueError(f"weekly.{key}: is required")
    days_raw = raw["days"]
    if not isinstance(days_raw, list) or not days_raw:
        raise ValueError("weekly.days: must be a non-empty list like [mon, sat]")
    days = []
    for day in days_raw:
        word = str(day).strip().lower()[:3]
        if word not in DAYS:
            raise ValueError(f"weekly.days: unknown day {day!r} (use {', '.join(DAYS)})")
        days.append(DAYS.index(word))
    start, end = _hhmm(raw["start"], "weekly.start"), _hhmm(raw["end"], "weekly.end")
    if start == end:
        raise ValueError("weekly.end: must differ from start (a 24 h window: use two windows)")
    zone = raw["timezone"]
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"weekly.timezone: unknown time zone {zone!r} (an IANA name)") from None
    return Weekly(tuple(sorted(set(days))), start, end, str(zone))


def parse_window(raw: Any, index: int) -> Window:
    """One `maintenance:` entry -> Window; raises ValueError('field: why')."""
    if not isinstance(raw, dict):
        raise ValueError(f"maintenance[{index}]: must be a mapping")
    unknown = sorted(set(map(str, raw)) - WINDOW_KEYS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key (allowed: {', '.join(sorted(WINDOW_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValueError("name: is required (a string of at most 100 characters)")
    services = raw.get("services", ["*"])
    if isinstance(services, str):
        services = [services]
    if (
        not isinstance(services, list)
        or not services
        or not all(isinstance(s, str) for s in services)
    ):
        raise ValueError("services: must be a list of service names, or ['*'] for all")
    weekly = raw.get("weekly")
    has_range = "start" in raw or "end" in raw
    if (weekly is None) == (not has_range):
        raise ValueError("start: give either start and end (absolute) or weekly (recurring)")
    if weekly is not None:
        return Window(name, tuple(services), weekly=_weekly(weekly))
    if "start" not in raw or "end" not in raw:
        raise ValueError(
            f"{'end' if 'start' in raw else 'start'}: is required with an absolute window"
        )
    start, end = _instant(raw["start"], "start"), _instant(raw["end"], "end")
    if end <= start:
        raise ValueError("end: must be after start")
    return Window(name, tuple(services), start=start, end=end)
