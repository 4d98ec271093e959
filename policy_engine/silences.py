"""Alertmanager silences, judged locally (pure): does an active silence cover an action's labels?

Alertmanager's matcher semantics (API v2 `matchers`: name, value, isRegex, isEqual):
  =   isRegex false, isEqual true     label value equals `value` (a missing label is "")
  !=  isRegex false, isEqual false    label value differs
  =~  isRegex true,  isEqual true     `value` matches the WHOLE label value (anchored: ^(?:v)$)
  !~  isRegex true,  isEqual false    it does not
A silence covers a label set when ALL its matchers match, and it is active when
startsAt <= now < endsAt (and Alertmanager has not expired it: status.state == "active").
Go's RE2 and Python's `re` agree on the syntax silences use in practice; a pattern Python cannot
compile matches nothing (the action then proceeds, the safe side for a remediation engine that
would otherwise be blocked by a silence it cannot read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        return {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
            (self.is_regex, self.is_equal)
        ]

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""
    state: str = "active"  # Alertmanager's status.state: active | pending | expired

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "state": self.state,
        }


@lru_cache(maxsize=512)
def _anchored(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(f"^(?:{pattern})$")
    except re.error:
        return None


def matcher_matches(m: Matcher, labels: Mapping[str, str]) -> bool:
    value = labels.get(m.name, "")
    if m.is_regex:
        compiled = _anchored(m.value)
        if compiled is None:
            return False
        hit = compiled.match(value) is not None
    else:
        hit = value == m.value
    return hit if m.is_equal else not hit


def silence_active(s: Silence, now: float) -> bool:
    return s.state == "active" and s.starts_at <= now < s.ends_at


def covering_silence(
    silences: Iterable[Silence], labels: Mapping[str, str], now: float
) -> Silence | None:
    """The active silence whose matchers all match `labels` (the one ending last), or None."""
    hits = [
        s
        for s in silences
        if s.matchers
        and silence_active(s, now)
        and all(matcher_matches(m, labels) for m in s.matchers)
    ]
    return max(hits, key=lambda s: s.ends_at) if hits else None


def _time(text: Any) -> float:
    if not isinstance(text, str) or not text:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    # Go writes up to 9 fractional digits; Python's fromisoformat takes at most 6
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


def parse_silences(body: Any) -> list[Silence]:
    """GET /api/v2/silences -> Silence objects; an entry that does not parse is left out."""
    if not isinstance(body, list):
        raise ValueError(f"expected a list of silences, got {type(body).__name__}")
    out = []
    for raw in body:
        try:
            matchers = tuple(
                Matcher(
                    name=str(m["name"]),
                    value=str(m["value"]),
                    is_regex=bool(m.get("isRegex", False)),
                    is_equal=bool(m.get("isEqual", True)),
                )
                for m in raw["matchers"]
            )
            out.append(
                Silence(
                    id=str(raw["id"]),
                    matchers=matchers,
                    starts_at=_time(raw["startsAt"]),
                    ends_at=_time(raw["endsAt"]),
                    created_by=str(raw.get("createdBy", "")),
                    comment=str(raw.get("comment", "")),
                    state=str((raw.get("status") or {}).get("state", "active")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out
