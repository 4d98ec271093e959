"""The condition AST: comparisons, flags and their `not`/`and`/`or`, and the metrics one reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Compare:
    metric: str
    op: str
    value: float


@dataclass(frozen=True)
class SeverityCompare:
    op: str
    level: int


@dataclass(frozen=True)
class Flag:
    name: str  # one of words.FLAGS


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


def metrics_of(node: Node) -> set[str]:
    """Metric names a condition reads."""
    if isinstance(node, Compare):
        return {node.metric}
    if isinstance(node, Not):
        return metrics_of(node.operand)
    if isinstance(node, And | Or):
        return metrics_of(node.left) | metrics_of(node.right)
    return set()
