"""Alertmanager's matcher semantics and silence selection, as pure functions."""

from __future__ import annotations

import pytest

from policy_engine.silences import (
    Matcher,
    Silence,
    covering_silence,
    matcher_matches,
    parse_silences,
    silence_active,
)

LABELS = {"service": "orders", "alertname": "HighErrorRate", "severity": "critical"}


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (Matcher("service", "orders"), True),
        (Matcher("service", "order"), False),
        (Matcher("service", "orders", is_equal=False), False),
        (Matcher("service", "users", is_equal=False), True),
        (Matcher("service", "ord.*", is_regex=True), True),
        # anchored: a regex must match the whole value, not a substring
        (Matcher("service", "rder", is_regex=True), False),
        (Matcher("service", "rders|x", is_regex=True), False),
        (Matcher("service", "orders|users", is_regex=True), True),
        (Matcher("service", "users|payments", is_regex=True, is_equal=False), True),
        (Matcher("service", "ord.*", is_regex=True, is_equal=False), False),
        # a missing label is the empty string
        (Matcher("team", ""), True),
        (Matcher("team", "", is_equal=False), False),
        (Matcher("team", ".*", is_regex=True), True),
        (Matcher("team", ".+", is_regex=True), False),
        (Matcher("team", "sre", is_equal=False), True),
        # a pattern Python cannot compile matches nothing (the action proceeds)
        (Matcher("service", "(unclosed", is_regex=True), False),
    ],
)
def test_matcher_semantics(matcher: Matcher, expected: bool) -> None:
    assert matcher_matches(matcher, LABELS) is expected


def test_matcher_text_shows_the_operator() -> None:
    ops = [
        str(Matcher("a", "1")),
        str(Matcher("a", "1", is_equal=False)),
        str(Matcher("a", "1", is_regex=True)),
        str(Matcher("a", "1", is_regex=True, is_equal=False)),
    ]
    assert ops == ['a="1"', 'a!="1"', 'a=~"1"', 'a!~"1"']


def silence(
    sid: str, *matchers: Matcher, start: float = 0, end: float = 100, state: str = "active"
) -> Silence:
    return Silence(sid, tuple(matchers), start, end, state=state)


def test_all_matchers_must_match_and_the_silence_must_be_active() -> None:
    both = silence("s1", Matcher("service", "orders"), Matcher("severity", "critical"))
    one_wrong = silence("s2", Matcher("service", "orders"), Matcher("severity", "warning"))
    assert covering_silence([both, one_wrong], LABELS, 50) == both
    assert covering_silence([one_wrong], LABELS, 50) is None
    # time bounds: startsAt inclusive, endsAt exclusive
    assert covering_silence([both], LABELS, 0) == both
    assert covering_silence([both], LABELS, 100) is None
    assert covering_silence([both], LABELS, -1) is None
    # expired or pending per Alertmanager: not applied even inside the times
    assert (
        covering_silence([silence("s3", Matcher("service", "orders"), state="expired")], LABELS, 50)
        is None
    )
    assert not silence_active(silence("s4", state="pending"), 50)
    # a silence without matchers (cannot be created in Alertmanager) silences nothing
    assert covering_silence([silence("s5")], LABELS, 50) is None


def test_the_longest_covering_silence_is_reported() -> None:
    short = silence("short", Matcher("service", "orders"), end=60)
    long = silence("long", Matcher("alertname", "High.*", is_regex=True), end=90)
    assert covering_silence([short, long], LABELS, 50) == long


def test_parse_api_v2_silences() -> None:
    body = [
        {
            "id": "abc",
            "matchers": [
                {"name": "service", "value": "orders", "isRegex": False, "isEqual": True},
                {"name": "severity", "value": "warn.*", "isRegex": True},
            ],
            "startsAt": "2026-11-30T12:00:00.123456789Z",
            "endsAt": "2026-11-30T13:00:00Z",
            "createdBy": "sre",
            "comment": "db migration",
            "status": {"state": "active"},
        },
        {"id": "broken", "matchers": "nope"},
        {"id": "no-times", "matchers": []},
    ]
    found = parse_silences(body)
    assert [s.id for s in found] == ["abc"]
    s = found[0]
    assert s.matchers[1] == Matcher("severity", "warn.*", is_regex=True, is_equal=True)
    assert s.ends_at - s.starts_at == pytest.approx(3600 - 0.123456, abs=1e-3)
    assert s.as_dict()["matchers"] == ['service="orders"', 'severity=~"warn.*"']
    with pytest.raises(ValueError, match="list of silences"):
        parse_silences({"error": "x"})
