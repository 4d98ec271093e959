"""The condition tokenizer: text -> tokens, numbers with their unit applied, or ConditionError."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from policy_engine.conditions.words import OPERATORS, UNITS

MAX_CONDITION_LENGTH = 1000


class ConditionError(ValueError):
    """A condition that does not parse or does not type-check; `position` is a 0-based column."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" (at column {position + 1})" if position is not None else ""
        super().__init__(message + where)
        self.position = position


TokenKind = Literal["number", "ident", "op", "lparen", "rparen", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    pos: int
    value: float = 0.0
    unit: str | None = None


_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNIT = re.compile(r"(ms|s|%|[kKmMgG]i?[bB])(?![A-Za-z0-9_])")


_BRACKETS: dict[str, TokenKind] = {"(": "lparen", ")": "rparen"}


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens; numbers carry their optional unit already applied."""
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_CONDITION_LENGTH} characters")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        token = _next_token(text, i)
        tokens.append(token)
        i = token.pos + len(token.text)
    tokens.append(Token("end", "", len(text)))
    return tokens


def _next_token(text: str, i: int) -> Token:
    """The token starting at `i` (not a space), or the error a user should read."""
    ch = text[i]
    if ch in _BRACKETS:
        return Token(_BRACKETS[ch], ch, i)
    op = next((o for o in OPERATORS if text.startswith(o, i)), None)
    if op is not None:
        return Token("op", op, i)
    if ch == "=":
        raise ConditionError("'=' is not an operator; use '==' to compare", i)
    if ch == "-" and i + 1 < len(text) and (text[i + 1].isdigit() or text[i + 1] == "."):
        raise ConditionError("negative numbers are not allowed: no metric is below 0", i)
    number = _NUMBER.match(text, i)
    if number is not None:
        return _number_token(text, number)
    ident = _IDENT.match(text, i)
    if ident is not None:
        return Token("ident", ident.group(0), i)
    raise ConditionError(f"unexpected character '{ch}'", i)


def _number_token(text: str, number: re.Match[str]) -> Token:
    """The matched number with its optional unit applied (`500ms` -> 0.5)."""
    i = number.start()
    value = float(number.group(0))
    end = number.end()
    unit_match = _UNIT.match(text, end)
    unit = None
    if unit_match is not None:
        unit = unit_match.group(1).lower()
        value *= UNITS[unit][1]
        end = unit_match.end()
    elif end < len(text) and (text[end].isalpha() or text[end] == "_"):
        word = _IDENT.match(text, end)
        bad = word.group(0) if word else text[end]
        raise ConditionError(f"unknown unit '{bad}' (known units: {', '.join(UNITS)})", end)
    if not math.isfinite(value):
        raise ConditionError("number is not finite", i)
    return Token("number", text[i:end], i, value, unit)
