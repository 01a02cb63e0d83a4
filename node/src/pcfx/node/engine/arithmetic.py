"""Decimal arithmetic on formulas a plant writes: numbers, named inputs, + - * / and parentheses, nothing else.

A derived factor's formula ("purity * 44.01 / 100.09", "ncv * carbon_content * oxidation * 44 / 12 / 1000")
is parsed with `ast` and evaluated node by node in Decimal arithmetic (28 significant digits), so the value is
exact where the inputs are and never depends on binary floating point. Nothing is ever passed to `eval`: a
function call, an attribute, a power or any other construct is refused with a FormulaError naming it.
"""

from __future__ import annotations

import ast
import decimal
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

__all__ = ["MAX_FORMULA_LENGTH", "FormulaError", "evaluate", "formula_names", "number"]

#: A longer formula is refused before it is parsed (the derivations plants write are one line).
MAX_FORMULA_LENGTH = 500

_NUMBER = re.compile(r"(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class FormulaError(ValueError):
    """A formula pcfx does not evaluate (syntax, a construct other than + - * / ( ), an unknown name, / 0)."""


def _parse(formula: str) -> ast.Expression:
    text = formula.strip()
    if not text:
        raise FormulaError("the formula is empty")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"the formula has {len(text)} characters; the limit is {MAX_FORMULA_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise FormulaError(f"cannot read formula {text!r}: write numbers, names, + - * / and ( )") from None
    return tree


def _walk(node: ast.AST, text: str) -> list[str]:
    """The names of a checked formula tree (FormulaError at the first construct that is not allowed)."""
    names: list[str] = []
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Expression):
            stack.append(current.body)
        elif isinstance(current, ast.BinOp) and type(current.op) in _OPERATORS:
            stack += [current.left, current.right]
        elif isinstance(current, ast.UnaryOp) and isinstance(current.op, ast.UAdd | ast.USub):
            stack.append(current.operand)
        elif isinstance(current, ast.Name):
            names.append(current.id)
        elif isinstance(current, ast.Constant) and _NUMBER.fullmatch(
            ast.get_source_segment(text, current) or ""
        ):
            continue
        else:
            shown = ast.get_source_segment(text, current) or type(current).__name__
            raise FormulaError(
                f"{shown!r} is not allowed in a formula (only numbers, names, + - * / and ( ))"
            )
    return names


def formula_names(formula: str) -> list[str]:
    """The input names a formula uses, in order of first use (FormulaError if it is not a plain formula)."""
    return list(dict.fromkeys(_walk(_parse(formula), formula.strip())))


def number(value: object, what: str) -> Decimal:
    """`value` (a Decimal, an int or a decimal string) as a finite Decimal; FormulaError naming `what` else."""
    if isinstance(value, bool):
        raise FormulaError(f"{what} is {value!r}, not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise FormulaError(f"{what} is {value!r}, not a number") from None
    if not result.is_finite():
        raise FormulaError(f"{what} is {value!r}, not a finite number")
    return result


def evaluate(formula: str, inputs: Mapping[str, object]) -> Decimal:
    """The value of `formula` with its names taken from `inputs` (numbers or decimal strings)."""
    text = formula.strip()
    tree = _parse(text)
    names = _walk(tree, text)
    missing = [n for n in dict.fromkeys(names) if n not in inputs]
    if missing:
        given = ", ".join(sorted(inputs)) or "none"
        raise FormulaError(
            f"formula {text!r} uses {', '.join(missing)}, which it is not given (inputs: {given})"
        )
    values = {n: number(inputs[n], f"input {n}") for n in dict.fromkeys(names)}
    with decimal.localcontext() as context:
        context.prec = 28
        context.traps[decimal.DivisionByZero] = True
        context.traps[decimal.InvalidOperation] = True
        context.traps[decimal.Overflow] = True
        try:
            return _value(tree.body, text, values)
        except ZeroDivisionError:
            raise FormulaError(f"formula {text!r} divides by zero") from None
        except ArithmeticError:
            raise FormulaError(f"formula {text!r} has no finite value") from None


def _value(node: ast.expr, text: str, values: Mapping[str, Decimal]) -> Decimal:
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, text, values), _value(node.right, text, values)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return left / right
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, text, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Name):
        return values[node.id]
    assert isinstance(node, ast.Constant)  # _walk admitted nothing else
    return Decimal((ast.get_source_segment(text, node) or "").replace("_", ""))
