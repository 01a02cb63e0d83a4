"""The OData v4 `$filter` subset of PACT v2.x ListFootprints, compiled to a predicate over v2 documents.

PACT v2.x (section "Filtering") asks for the comparison operators eq, ne, lt, le, gt, ge, the boolean
and / or / not, parentheses, and the `any` lambda over collection properties such as
`productIds/any(p:(p eq 'urn:...'))`; property paths use `/` (`pcf/geographyCountry`). Date-time
literals compare as instants, everything else as strings or numbers. Anything else is 400 BadRequest.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pcfx.node.pact.errors import BadRequestError
from pcfx.node.pact.filters import parse_timestamp

__all__ = ["MAX_FILTER_DEPTH", "MAX_FILTER_LENGTH", "Predicate", "compile_filter"]

#: Bounds of a `$filter` (real ones are a few conditions deep): the parser recurses once per level.
MAX_FILTER_LENGTH = 4096
MAX_FILTER_DEPTH = 32
#: Digits of a number literal (a longer one is no PACT value; Python refuses more than 4300 anyway).
MAX_NUMBER_LENGTH = 40

Predicate = Callable[[Mapping[str, Any]], bool]
_Scope = dict[str, Any]
_Eval = Callable[[Mapping[str, Any], _Scope], Any]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?(?![\w:/-]))|"
    r"(?P<punct>[():,])|(?P<name>[A-Za-z_$][\w$]*(?:/[A-Za-z_$][\w$]*)*))"
)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_MISSING = object()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise BadRequestError(f"unsupported $filter syntax near {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _resolve(document: Any, path: list[str]) -> Any:
    current = document
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    if isinstance(left, str) and isinstance(right, str):
        if "T" in left and "T" in right:
            left_time, right_time = parse_timestamp(left), parse_timestamp(right)
            if isinstance(left_time, datetime) and isinstance(right_time, datetime):
                return left_time, right_time
        return left, right
    if isinstance(left, int | float) and isinstance(right, int | float) and not isinstance(left, bool):
        return left, right
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return op == "ne"
    pair = _comparable(left, right)
    if pair is None:
        return op == "ne" if op in ("eq", "ne") else False
    return _COMPARISONS[op](*pair)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise BadRequestError(f"$filter nests deeper than {MAX_FILTER_DEPTH} levels")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise BadRequestError("incomplete $filter expression")
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        _kind, text = self.take()
        if text != value:
            raise BadRequestError(f"$filter: expected {value!r}, found {text!r}")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1].lower() == word:
            self.index += 1
            return True
        return False

    def parse_or(self) -> _Eval:
        left = self.parse_and()
        while self.keyword("or"):
            right = self.parse_and()
            left = (lambda a, b: lambda doc, scope: bool(a(doc, scope)) or bool(b(doc, scope)))(left, right)
        return left

    def parse_and(self) -> _Eval:
        left = self.parse_unary()
        while self.keyword("and"):
            right = self.parse_unary()
            left = (lambda a, b: lambda doc, scope: bool(a(doc, scope)) and bool(b(doc, scope)))(left, right)
        return left

    def parse_unary(self) -> _Eval:
        if self.keyword("not"):
            self.enter()
            inner = self.parse_unary()
            self.depth -= 1
            return lambda doc, scope: not inner(doc, scope)
        return self.parse_primary()

    def parse_primary(self) -> _Eval:
        token = self.peek()
        if token is not None and token == ("punct", "("):
            self.take()
            self.enter()
            inner = self.parse_or()
            self.depth -= 1
            self.expect(")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is None or token[0] != "name" or token[1].lower() not in _COMPARISONS:
            # A lambda or a boolean property stands alone as a condition.
            return lambda doc, scope: left(doc, scope) is True
        op = self.take()[1].lower()
        right = self.parse_operand()
        return lambda doc, scope: _compare(op, left(doc, scope), right(doc, scope))

    def parse_operand(self) -> _Eval:
        kind, text = self.take()
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            return lambda doc, scope: value
        if kind == "number":
            if len(text) > MAX_NUMBER_LENGTH:
                raise BadRequestError(f"$filter: a number of more than {MAX_NUMBER_LENGTH} characters")
            number = float(text) if "." in text else int(text)
            return lambda doc, scope: number
        if kind != "name":
            raise BadRequestError(f"$filter: unexpected {text!r}")
        path = text.split("/")
        if path[-1].lower() in ("any", "all") and self.peek() == ("punct", "("):
            return self.parse_lambda(path[:-1], path[-1].lower())
        if text.lower() in ("true", "false"):
            flag = text.lower() == "true"
            return lambda doc, scope: flag
        return lambda doc, scope: (
            _resolve(scope[path[0]], path[1:]) if path[0] in scope else _resolve(doc, path)
        )

    def parse_lambda(self, collection: list[str], quantifier: str) -> _Eval:
        self.expect("(")
        kind, variable = self.take()
        if kind != "name":
            raise BadRequestError("$filter: expected a lambda variable")
        self.expect(":")
        self.enter()
        body = self.parse_or()
        self.depth -= 1
        self.expect(")")
        combine = any if quantifier == "any" else all

        def evaluate(doc: Mapping[str, Any], scope: _Scope) -> bool:
            items = (
                _resolve(scope[collection[0]], collection[1:])
                if collection[0] in scope
                else _resolve(doc, collection)
            )
            if not isinstance(items, list):
                return False
            return combine(bool(body(doc, {**scope, variable: item})) for item in items)

        return evaluate


def compile_filter(expression: str) -> Predicate:
    """A predicate over PACT v2 footprint documents for an OData `$filter` expression."""
    if len(expression) > MAX_FILTER_LENGTH:
        raise BadRequestError(f"$filter is longer than {MAX_FILTER_LENGTH} characters")
    tokens = _tokenize(expression)
    if not tokens:
        return lambda document: True
    parser = _Parser(tokens)
    evaluate = parser.parse_or()
    if parser.peek() is not None:
        raise BadRequestError(f"$filter: unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return lambda document: bool(evaluate(document, {}))
