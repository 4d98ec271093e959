"""Condition evaluation: three-valued (Kleene), so an unknown value never triggers an action."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from policy_engine.conditions.nodes import And, Compare, Flag, Node, Not, SeverityCompare


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
