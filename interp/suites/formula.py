"""SyntaxGym prediction formulas: a small recursive-descent parser (no ``eval``).

Grammar (loosest binding first; ``( )`` and ``[ ]`` both group)::

    formula  := and ('|' and)*
    and      := compare ('&' compare)*
    compare  := sum (('<' | '>' | '=') sum)?      '=' is |a - b| <= 1e-3
    sum      := atom (('+' | '-') atom)*
    atom     := term | number | '(' formula ')' | '[' formula ']'
    term     := '(' REGION ';' '%' CONDITION '%' ')'     REGION is a number or '*' (all regions)

>>> f = parse_formula("[(4;%bad%) > (4;%good%)] & [(*;%bad%) - 1.5 > (*;%good%)]")
>>> sorted(f.conditions())
['bad', 'good']
>>> values = {(4, "bad"): 9.0, (4, "good"): 2.0, (None, "bad"): 20.0, (None, "good"): 10.0}
>>> f.evaluate(lambda region, condition: values[region, condition])
True
>>> try:
...     parse_formula("(4;%bad%) >> (4;%good%)")
... except FormulaError as error:
...     print(error)
formula error at character 11: expected a number, a term such as (4;%cond%), or a group
  (4;%bad%) >> (4;%good%)
             ^
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from interp.errors import SuiteError

EQUAL_TOLERANCE = 1e-3

ValueFn = Callable[[int | None, str], float]

_TERM = re.compile(r"\(\s*(\d+|\*)\s*;\s*%([^%]*)%\s*\)")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_SYMBOLS = set("()[]<>=&|+-")


class FormulaError(SuiteError):
    """A formula that does not parse or does not type-check; shows the bad character."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message, self.text, self.position = message, text, position
        super().__init__(f"formula error at character {position}: {message}\n  {text}\n  {' ' * position}^")


@dataclass(frozen=True)
class Token:
    kind: str  # "term", "number", a symbol, or "end"
    position: int
    value: object = None


def tokenize_formula(text: str) -> list[Token]:
    """Split a formula into tokens; an unexpected character is a :class:`FormulaError`."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "(" and (match := _TERM.match(text, i)):
            region = None if match.group(1) == "*" else int(match.group(1))
            tokens.append(Token("term", i, (region, match.group(2))))
            i = match.end()
        elif (match := _NUMBER.match(text, i)) and (char != "-" or _expects_operand(tokens)):
            tokens.append(Token("number", i, float(match.group(0))))
            i = match.end()
        elif char in _SYMBOLS:
            tokens.append(Token(char, i))
            i += 1
        else:
            raise FormulaError(f"unexpected character {char!r}", text, i)
    tokens.append(Token("end", len(text)))
    return tokens


def _expects_operand(tokens: list[Token]) -> bool:
    return not tokens or tokens[-1].kind not in ("term", "number", ")", "]")


# ------------------------------------------------------------------------------ syntax tree
@dataclass(frozen=True)
class Node:
    position: int

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()

    def terms(self) -> list[Term]:
        """Every ``(region;%condition%)`` term, in reading order."""
        return [node for node in self.walk() if isinstance(node, Term)]

    def conditions(self) -> set[str]:
        return {term.condition for term in self.terms()}


@dataclass(frozen=True)
class Term(Node):
    region: int | None  # None means '*', the sum over all regions
    condition: str

    def evaluate(self, value: ValueFn) -> float:
        return value(self.region, self.condition)


@dataclass(frozen=True)
class Number(Node):
    value: float

    def evaluate(self, value: ValueFn) -> float:
        return self.value


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def evaluate(self, value: ValueFn) -> float | bool:
        a, b = self.left.evaluate(value), self.right.evaluate(value)
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "<":
            return bool(a < b)
        if self.op == ">":
            return bool(a > b)
        if self.op == "=":
            return bool(abs(a - b) <= EQUAL_TOLERANCE)
        if self.op == "&":
            return bool(a and b)
        return bool(a or b)


@dataclass(frozen=True)
class Formula:
    """A parsed prediction: ``evaluate(value_fn) -> bool``; ``terms()``/``conditions()`` for checks."""

    text: str
    root: Node

    def evaluate(self, value: ValueFn) -> bool:
        return bool(self.root.evaluate(value))

    def terms(self) -> list[Term]:
        return self.root.terms()

    def conditions(self) -> set[str]:
        return self.root.conditions()

    def __str__(self) -> str:
        return self.text


# ------------------------------------------------------------------------------ parser
_BOOLEAN_OPS = {"&", "|", "<", ">", "="}


def _is_boolean(node: Node) -> bool:
    return isinstance(node, Binary) and node.op in _BOOLEAN_OPS


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize_formula(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def fail(self, message: str, token: Token | None = None) -> FormulaError:
        return FormulaError(message, self.text, (token or self.token).position)

    def take(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def parse(self) -> Formula:
        if self.token.kind == "end":
            raise self.fail("the formula is empty")
        root = self.logic("|", self.conjunction)
        if self.token.kind != "end":
            raise self.fail(f"unexpected {self.token.kind!r}; expected an operator or the end")
        if not _is_boolean(root):
            raise FormulaError("a formula must be a comparison such as (4;%a%) > (4;%b%)", self.text, 0)
        return Formula(self.text, root)

    def conjunction(self) -> Node:
        return self.logic("&", self.comparison)

    def logic(self, op: str, operand) -> Node:
        left = operand()
        while self.token.kind == op:
            token = self.take()
            right = operand()
            for side in (left, right):
                if not _is_boolean(side):
                    raise FormulaError(f"'{op}' joins comparisons, not numbers", self.text, side.position)
            left = Binary(token.position, op, left, right)
        return left

    def comparison(self) -> Node:
        left = self.sum()
        if self.token.kind in ("<", ">", "="):
            token = self.take()
            right = self.sum()
            for side in (left, right):
                if _is_boolean(side):
                    raise FormulaError(f"'{token.kind}' compares numbers, not comparisons", self.text,
                                       side.position)
            left = Binary(token.position, token.kind, left, right)
            if self.token.kind in ("<", ">", "="):
                raise self.fail("comparisons do not chain; group them with [ ] and join with &")
        return left

    def sum(self) -> Node:
        left = self.atom()
        while self.token.kind in ("+", "-"):
            token = self.take()
            right = self.atom()
            for side in (left, right):
                if _is_boolean(side):
                    raise FormulaError(f"'{token.kind}' adds numbers, not comparisons", self.text, side.position)
            left = Binary(token.position, token.kind, left, right)
        return left

    def atom(self) -> Node:
        token = self.token
        if token.kind == "term":
            self.take()
            region, condition = token.value
            if not condition:
                raise self.fail("a term needs a condition name between the % signs", token)
            return Term(token.position, region, condition)
        if token.kind == "number":
            self.take()
            return Number(token.position, token.value)
        if token.kind in ("(", "["):
            self.take()
            inner = self.logic("|", self.conjunction)
            closing = ")" if token.kind == "(" else "]"
            if self.token.kind != closing:
                raise self.fail(f"expected {closing!r} to close the {token.kind!r} at character {token.position}")
            self.take()
            return inner
        if token.kind == "end":
            raise self.fail("the formula ends too early; expected a number, a term or a group")
        raise self.fail("expected a number, a term such as (4;%cond%), or a group")


def parse_formula(text: str) -> Formula:
    """Parse a SyntaxGym prediction formula; a :class:`FormulaError` points at the bad character."""
    if not isinstance(text, str):
        raise SuiteError(f"a formula must be a string, not {type(text).__name__}")
    return _Parser(text).parse()
