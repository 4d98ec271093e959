"""Policy condition grammar: tokenizer + recursive-descent parser -> AST -> evaluation. Never eval.

Grammar (lowest precedence first):

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" expr ")" | FLAG | comparison
    FLAG       := "no_data" | "caused_by_dependency" | "caused_by_load"
    comparison := METRIC OP NUMBER[unit] | "severity" OP SEVERITY_WORD
    OP         := ">" | ">=" | "<" | "<=" | "==" | "!="
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from relia_contracts.catalog import shipped_signals
from relia_contracts.severity import SEVERITY_RANK

# catalog unit -> the unit kind conditions check numbers against (ms, %, MB, ... fit or not)
UNIT_KINDS = {"seconds": "time", "second": "time", "s": "time", "ratio": "ratio", "bytes": "bytes"}


def unit_kind(unit: object) -> str:
    """The unit kind of a catalog unit (`seconds` -> time); anything else is unitless."""
    return UNIT_KINDS.get(unit.strip().lower(), "none") if isinstance(unit, str) else "none"


# metric name -> unit kind, from the shipped catalog file (relia_contracts/catalog.py): the
# names conditions may use until the anomaly service's own catalog has been read.
DEFAULT_METRICS: dict[str, str] = {s.name: unit_kind(s.unit) for s in shipped_signals()}
# The live vocabulary: the anomaly service's catalog once read (policy_engine/vocabulary.py),
# the shipped catalog's names until then. Changed in place by set_vocabulary, so every
# importer sees it.
METRICS: dict[str, str] = dict(DEFAULT_METRICS)
SEVERITIES: dict[str, int] = SEVERITY_RANK
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
KEYWORDS = {"and", "or", "not"}
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("time", 0.001),
    "s": ("time", 1.0),
    "%": ("ratio", 0.01),
    "kb": ("bytes", 1e3),
    "mb": ("bytes", 1e6),
    "gb": ("bytes", 1e9),
    "kib": ("bytes", 1024.0),
    "mib": ("bytes", 1024.0**2),
    "gib": ("bytes", 1024.0**3),
}
MAX_CONDITION_LENGTH = 1000
MAX_DEPTH = 32


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


# AST ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    metric: str
    op: str
    value: float


@dataclass(frozen=True)
class SeverityCompare:
    op: str
    level: int


# Words that are true or false on their own, read from the Context field of the same name:
# no_data (a series of the service is gone), caused_by_dependency (the service's trouble is a
# dependency's, per the anomaly service's attribution: docs/root-cause.md), caused_by_load (it
# started while the service's traffic and CPU were above their bands: docs/root-cause.md).
FLAGS = ("no_data", "caused_by_dependency", "caused_by_load")


@dataclass(frozen=True)
class Flag:
    name: str  # one of FLAGS


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Compare | SeverityCompare | Flag | Not | And | Or


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text == word

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ConditionError("condition is empty")
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise ConditionError(
                f"unexpected '{token.text}' after a complete condition (missing 'and'/'or'?)",
                token.pos,
            )
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.is_keyword("or"):
            self.take()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.is_keyword("and"):
            self.take()
            node = And(node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.is_keyword("not"):
            self.take()
            self.enter()
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.atom()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"condition nests deeper than {MAX_DEPTH} levels")

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "lparen":
            return self.group()
        name = self.ident(token)
        if name in FLAGS:
            if self.peek().kind == "op":
                raise ConditionError(
                    f"'{name}' is true or false on its own; write '{name}' or 'not {name}'",
                    self.peek().pos,
                )
            return Flag(name)
        if name == "severity":
            return self.severity_compare()
        return self.metric_compare(name, token)

    def group(self) -> Node:
        """A parenthesised condition, after its '('."""
        self.enter()
        node = self.or_expr()
        self.depth -= 1
        closing = self.take()
        if closing.kind != "rparen":
            raise ConditionError("missing ')'", closing.pos)
        return node

    def ident(self, token: Token) -> str:
        """The name a comparison or flag starts with, or why this token cannot start one."""
        if token.kind == "rparen":
            raise ConditionError("unexpected ')'", token.pos)
        if token.kind == "end":
            raise ConditionError("condition ends where a comparison was expected", token.pos)
        if token.kind != "ident":
            raise ConditionError(
                f"expected a metric, 'severity' or a flag ({', '.join(FLAGS)}) but found "
                f"'{token.text}'",
                token.pos,
            )
        if token.text in KEYWORDS:
            raise ConditionError(f"'{token.text}' needs a condition before it", token.pos)
        return token.text

    def metric_compare(self, name: str, token: Token) -> Node:
        if name not in METRICS:
            if name in SEVERITIES:
                raise ConditionError(
                    f"'{name}' is a severity word; compare it with 'severity'", token.pos
                )
            known = ", ".join([*METRICS, "severity", *FLAGS])
            raise ConditionError(f"unknown metric '{name}' (known: {known})", token.pos)
        op = self.operator(name)
        value_token = self.take()
        if value_token.kind != "number":
            raise ConditionError(
                f"'{name}' must be compared with a number, found '{value_token.text or 'end'}'",
                value_token.pos,
            )
        if value_token.unit is not None:
            number_kind = UNITS[value_token.unit][0]
            metric_kind = METRICS[name]
            if number_kind != metric_kind:
                raise ConditionError(
                    f"unit '{value_token.unit}' does not fit '{name}' "
                    f"({name} is {_KIND_WORDS[metric_kind]})",
                    value_token.pos,
                )
        return Compare(name, op, value_token.value)

    def operator(self, name: str) -> str:
        token = self.take()
        if token.kind != "op":
            raise ConditionError(
                f"expected an operator (> >= < <= == !=) after '{name}', "
                f"found '{token.text or 'end'}'",
                token.pos,
            )
        return token.text

    def severity_compare(self) -> Node:
        op = self.operator("severity")
        token = self.take()
        if token.kind != "ident" or token.text not in SEVERITIES:
            words = ", ".join(SEVERITIES)
            raise ConditionError(
                f"'severity' must be compared with one of {words}, found '{token.text or 'end'}'",
                token.pos,
            )
        return SeverityCompare(op, SEVERITIES[token.text])


def set_vocabulary(metrics: Mapping[str, str] | None) -> None:
    """Make `metrics` (name -> unit kind) the names conditions may use; None: the defaults.

    In place and never empty on the way (add first, then drop), so a parse running in another
    thread sees either set's names."""
    new = dict(DEFAULT_METRICS if metrics is None else metrics)
    METRICS.update(new)
    for name in [n for n in METRICS if n not in new]:
        del METRICS[name]


_KIND_WORDS = {
    "time": "in seconds: use ms or s",
    "ratio": "a ratio 0..1: use a plain number or %",
    "bytes": "in bytes: use KB, MB, GB, KiB, MiB or GiB",
    "none": "unitless: use a plain number",
}


def parse(text: str) -> Node:
    """Parse a condition string into an AST, or raise ConditionError saying why."""
    if not isinstance(text, str):
        raise ConditionError("condition must be a string")
    return _Parser(tokenize(text)).parse()


def metrics_of(node: Node) -> set[str]:
    """Metric names a condition reads."""
    if isinstance(node, Compare):
        return {node.metric}
    if isinstance(node, Not):
        return metrics_of(node.operand)
    if isinstance(node, And | Or):
        return metrics_of(node.left) | metrics_of(node.right)
    return set()


@dataclass(frozen=True)
class Context:
    """What a condition sees: metric values (None = unknown), severity level, the FLAGS."""

    values: Mapping[str, float | None]
    severity: int | None = None
    no_data: bool = False
    caused_by_dependency: bool = False
    caused_by_load: bool = False


def _compare(left: float, op: str, right: float) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == "==":
        return left == right
    return left != right


def evaluate3(node: Node, ctx: Context) -> bool | None:
    """Three-valued (Kleene) evaluation: None means unknown (a metric with no value)."""
    if isinstance(node, Compare):
        value = ctx.values.get(node.metric)
        if value is None or not math.isfinite(value):
            return None
        return _compare(value, node.op, node.value)
    if isinstance(node, SeverityCompare):
        if ctx.severity is None:
            return None
        return _compare(float(ctx.severity), node.op, float(node.level))
    if isinstance(node, Flag):
        return bool(getattr(ctx, node.name))
    if isinstance(node, Not):
        inner = evaluate3(node.operand, ctx)
        return None if inner is None else not inner
    left = evaluate3(node.left, ctx)
    right = evaluate3(node.right, ctx)
    if isinstance(node, And):
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def evaluate(node: Node, ctx: Context) -> bool:
    """True only when the condition is known to hold: unknown values never trigger an action."""
    return evaluate3(node, ctx) is True
