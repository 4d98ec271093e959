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

The parts, each a module: words.py (the vocabulary), tokens.py (text -> tokens), nodes.py (the
AST), parser.py (tokens -> AST), evaluation.py (AST + Context -> true/false/unknown). Import
from here: this package's names are the grammar's public surface.
"""

from policy_engine.conditions.evaluation import Context, evaluate, evaluate3
from policy_engine.conditions.nodes import (
    And,
    Compare,
    Flag,
    Node,
    Not,
    Or,
    SeverityCompare,
    metrics_of,
)
from policy_engine.conditions.parser import MAX_DEPTH, parse
from policy_engine.conditions.tokens import (
    MAX_CONDITION_LENGTH,
    ConditionError,
    Token,
    TokenKind,
    tokenize,
)
from policy_engine.conditions.words import (
    DEFAULT_METRICS,
    FLAGS,
    KEYWORDS,
    METRICS,
    OPERATORS,
    SEVERITIES,
    UNIT_KINDS,
    UNITS,
    set_vocabulary,
    unit_kind,
)

__all__ = [
    "DEFAULT_METRICS",
    "FLAGS",
    "KEYWORDS",
    "MAX_CONDITION_LENGTH",
    "MAX_DEPTH",
    "METRICS",
    "OPERATORS",
    "SEVERITIES",
    "UNITS",
    "UNIT_KINDS",
    "And",
    "Compare",
    "ConditionError",
    "Context",
    "Flag",
    "Node",
    "Not",
    "Or",
    "SeverityCompare",
    "Token",
    "TokenKind",
    "evaluate",
    "evaluate3",
    "metrics_of",
    "parse",
    "set_vocabulary",
    "tokenize",
    "unit_kind",
]
