"""The recursive-descent condition parser: tokens -> AST, or a ConditionError with its column."""

from __future__ import annotations

from policy_engine.conditions.nodes import And, Compare, Flag, Node, Not, Or, SeverityCompare
from policy_engine.conditions.tokens import ConditionError, Token, tokenize
from policy_engine.conditions.words import FLAGS, KEYWORDS, KIND_WORDS, METRICS, SEVERITIES, UNITS

MAX_DEPTH = 32


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
                    f"({name} is {KIND_WORDS[metric_kind]})",
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


def parse(text: str) -> Node:
    """Parse a condition string into an AST, or raise ConditionError saying why."""
    if not isinstance(text, str):
        raise ConditionError("condition must be a string")
    return _Parser(tokenize(text)).parse()
