"""Maintenance windows (pure): absolute and weekly, midnight crossing, DST, non-UTC zones, and
their validation in policies.yml."""

from __future__ import annotations

from datetime import datetime

import pytest

from policy_engine.maintenance import Window, active_window, parse_window, window_bounds
from policy_engine.policies import load_policies


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def weekly(
    days: list[str], start: str, end: str, tz: str, services: list[str] | None = None
) -> Window:
    raw = {"name": "w", "weekly": {"days": days, "start": start, "end": end, "timezone": tz}}
    if services is not None:
        raw["services"] = services
    return parse_window(raw, 0)


def inside(window: Window, when: str) -> bool:
    return window_bounds(window, ts(when)) is not None


def test_absolute_range_is_start_inclusive_end_exclusive() -> None:
    w = parse_window(
        {
            "name": "mig",
            "services": ["orders"],
            "start": "2026-12-01T22:00:00+01:00",
            "end": "2026-12-02T01:30:00+01:00",
        },
        0,
    )
    assert inside(w, "2026-12-01T21:00:00+00:00")  # 22:00 +01:00
    assert not inside(w, "2026-12-01T20:59:59+00:00")
    assert inside(w, "2026-12-02T00:29:59+00:00")
    assert not inside(w, "2026-12-02T00:30:00+00:00")
    assert window_bounds(w, ts("2026-12-01T23:00:00+00:00")) == (
        ts("2026-12-01T21:00:00+00:00"),
        ts("2026-12-02T00:30:00+00:00"),
    )


def test_weekly_crossing_midnight_in_new_york() -> None:
    # Saturdays 22:00 -> Sunday 02:00 New York time (EST, UTC-5 in late November)
    w = weekly(["sat"], "22:00", "02:00", "America/New_York")
    assert not inside(w, "2026-11-29T02:59:59+00:00")  # Sat 21:59:59 local
    assert inside(w, "2026-11-29T03:00:00+00:00")  # Sat 22:00 local
    assert inside(w, "2026-11-29T05:00:00+00:00")  # Sun 00:00 local: yesterday's occurrence
    assert inside(w, "2026-11-29T06:59:59+00:00")  # Sun 01:59:59 local
    assert not inside(w, "2026-11-29T07:00:00+00:00")  # Sun 02:00 local
    # Sunday evening is not Saturday evening
    assert not inside(w, "2026-11-30T03:30:00+00:00")  # Sun 22:30 local
    # the bounds are the occurrence's, in UTC
    assert window_bounds(w, ts("2026-11-29T05:00:00+00:00")) == (
        ts("2026-11-29T03:00:00+00:00"),
        ts("2026-11-29T07:00:00+00:00"),
    )


def test_weekly_crossing_midnight_wraps_the_week() -> None:
    w = weekly(["sun"], "23:00", "01:00", "Asia/Kolkata")  # UTC+05:30, no DST
    assert inside(w, "2026-11-29T23:30:00+05:30")  # Sunday 23:30
    assert inside(w, "2026-11-30T00:30:00+05:30")  # Monday 00:30: Sunday's occurrence
    assert not inside(w, "2026-11-30T01:00:00+05:30")
    assert not inside(w, "2026-11-30T23:30:00+05:30")  # Monday night


def test_same_day_window_and_day_list() -> None:
    w = weekly(["mon", "Wednesday"], "09:00", "17:00", "Europe/Berlin")
    assert inside(w, "2026-11-30T09:00:00+01:00")  # Monday
    assert not inside(w, "2026-11-30T17:00:00+01:00")
    assert not inside(w, "2026-12-01T12:00:00+01:00")  # Tuesday
    assert inside(w, "2026-12-02T12:00:00+01:00")  # Wednesday


def test_dst_spring_forward_keeps_local_hours() -> None:
    # Berlin, Sunday 2026-03-29: 02:00 CET -> 03:00 CEST. 01:00-04:00 local is 2 real hours.
    w = weekly(["sun"], "01:00", "04:00", "Europe/Berlin")
    bounds = window_bounds(w, ts("2026-03-29T01:00:00+00:00"))
    assert bounds == (ts("2026-03-29T00:00:00+00:00"), ts("2026-03-29T02:00:00+00:00"))
    assert not inside(w, "2026-03-29T02:00:00+00:00")  # 04:00 CEST
    # a start inside the gap (02:30 does not exist) is read with the offset before the change
    gap = weekly(["sun"], "02:30", "05:00", "Europe/Berlin")
    assert window_bounds(gap, ts("2026-03-29T02:00:00+00:00")) == (
        ts("2026-03-29T01:30:00+00:00"),
        ts("2026-03-29T03:00:00+00:00"),
    )


def test_dst_fall_back_keeps_local_hours() -> None:
    # Berlin, Sunday 2026-10-25: 03:00 CEST -> 02:00 CET. 01:00-04:00 local is 4 real hours.
    w = weekly(["sun"], "01:00", "04:00", "Europe/Berlin")
    assert window_bounds(w, ts("2026-10-25T02:30:00+00:00")) == (
        ts("2026-10-24T23:00:00+00:00"),
        ts("2026-10-25T03:00:00+00:00"),
    )
    assert not inside(w, "2026-10-25T03:00:00+00:00")
    # crossing midnight into the change night: Saturday 23:00 -> Sunday 03:00 local (5 h real)
    night = weekly(["sat"], "23:00", "03:00", "Europe/Berlin")
    assert window_bounds(night, ts("2026-10-25T01:30:00+00:00")) == (
        ts("2026-10-24T21:00:00+00:00"),
        ts("2026-10-25T02:00:00+00:00"),
    )


def test_services_all_or_listed() -> None:
    everyone = weekly(["mon"], "00:00", "23:59", "UTC")
    orders = weekly(["mon"], "00:00", "23:59", "UTC", services=["orders"])
    monday = ts("2026-11-30T12:00:00+00:00")
    assert active_window((orders,), "orders", monday) == orders
    assert active_window((orders,), "users", monday) is None
    assert active_window((orders, everyone), "users", monday) == everyone
    assert active_window((everyone,), "users", ts("2026-12-01T12:00:00+00:00")) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"services": ["x"], "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
            "name",
        ),
        (
            {"name": "a", "start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00Z"},
            "UTC offset",
        ),
        (
            {"name": "a", "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "after start",
        ),
        ({"name": "a", "start": "tomorrow", "end": "2026-12-01T00:00:00Z"}, "RFC 3339"),
        ({"name": "a", "start": "2026-12-01T00:00:00Z"}, "end: is required"),
        ({"name": "a"}, "either start and end"),
        (
            {
                "name": "a",
                "start": "2026-12-01T00:00:00Z",
                "end": "2026-12-02T00:00:00Z",
                "weekly": {},
            },
            "either",
        ),
        (
            {"name": "a", "weekly": {"days": ["sat"], "start": "23:00", "end": "01:00"}},
            "timezone: is required",
        ),
        (
            {
                "name": "a",
                "weekly": {
                    "days": ["sat"],
                    "start": "23:00",
                    "end": "01:00",
                    "timezone": "Mars/Base",
                },
            },
            "unknown time zone",
        ),
        (
            {
                "name": "a",
                "weekly": {
                    "days": ["someday"],
                    "start": "23:00",
                    "end": "01:00",
                    "timezone": "UTC",
                },
            },
            "unknown day",
        ),
        (
            {
                "name": "a",
                "weekly": {"days": [], "start": "23:00", "end": "01:00", "timezone": "UTC"},
            },
            "non-empty",
        ),
        (
            {
                "name": "a",
                "weekly": {"days": ["sat"], "start": "24:00", "end": "01:00", "timezone": "UTC"},
            },
            "HH:MM",
        ),
        (
            {
                "name": "a",
                "weekly": {"days": ["sat"], "start": "01:00", "end": "01:00", "timezone": "UTC"},
            },
            "differ",
        ),
        (
            {
                "name": "a",
                "weekly": {
                    "days": ["sat"],
                    "start": "1:00",
                    "end": "02:00",
                    "timezone": "UTC",
                    "x": 1,
                },
            },
            "unknown key",
        ),
        ({"name": "a", "services": "orders", "when": 1}, "unknown key"),
        (
            {
                "name": "a",
                "services": [],
                "start": "2026-12-01T00:00:00Z",
                "end": "2026-12-02T00:00:00Z",
            },
            "services",
        ),
    ],
)
def test_bad_windows_are_refused_with_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(raw, 0)


def test_policies_file_carries_windows_and_reports_errors_by_index() -> None:
    good = """
maintenance:
  - name: nightly
    services: [orders]
    weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Europe/Berlin}
  - {name: migration, start: "2026-12-01T22:00:00Z", end: "2026-12-01T23:00:00Z"}
policies: []
"""
    pset, errors = load_policies(good, "p.yml")
    assert errors == []
    assert pset is not None
    assert [w.name for w in pset.maintenance] == ["nightly", "migration"]
    assert pset.maintenance[1].services == ("*",)
    bad = """
maintenance:
  - {name: ok, start: "2026-12-01T22:00:00Z", end: "2026-12-01T23:00:00Z"}
  - {name: broken, weekly: {days: [sat], start: "23:00", end: "01:00", timezone: Nowhere/City}}
policies: []
"""
    pset, errors = load_policies(bad, "p.yml")
    assert pset is None
    assert [(e.field, e.message) for e in errors] == [
        ("maintenance[1].weekly.timezone", "unknown time zone 'Nowhere/City' (an IANA name)")
    ]
    _, errors = load_policies("maintenance: {a: 1}\npolicies: []\n", "p.yml")
    assert errors[0].field == "maintenance"
    assert "list" in errors[0].message
