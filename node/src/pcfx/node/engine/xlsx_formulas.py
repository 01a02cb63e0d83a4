"""Excel formulas of an inventory workbook, evaluated by the node itself in Decimal arithmetic.

openpyxl does not calculate, and a workbook written by a program (or edited by one after Excel saved it) has
no cached values, or stale ones. So pcfx evaluates each formula cell it reads: numbers, references to cells of
the workbook (`N5`, `$N$5`, `factors!N5`, `'product 2'!B3`), + - * / and parentheses, in Decimal arithmetic
(engine.arithmetic) from the referenced cells' values (themselves evaluated when they are formulas). A formula
that is one reference (`=inputs!B2`) takes the referenced value as it is, text included. Anything else (a
function such as SUM, a range, a power, a percent, text) is one error naming the sheet, the cell and the
formula, never a silent 0 or empty cell. Where Excel saved a value for the cell, it must agree with pcfx's to
rounding (a relative 1e-9): otherwise the error names the cell and both values.

A formula in the factors sheet's `value` column is a derived factor: it is also read back as a formula over
named inputs ("ncv * carbon_content * oxidation * 44 / 12 / 1000", the row's input columns by their names,
other cells as `M9` or `inputs_D5`) that the factor keeps as its provenance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pcfx.node.engine.arithmetic import FormulaError, evaluate, number
from pcfx.node.engine.errors import InventoryError

__all__ = ["FormulaCell", "WorkbookCells"]

#: A relative difference between pcfx's value of a formula and the one Excel saved that still agrees.
TOLERANCE = Decimal("1e-9")
#: Formulas may refer to formulas this deep (a longer chain is reported, not followed).
MAX_DEPTH = 64

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<ref>(?:(?P<sheet>'(?:[^']|'')+'|[^\W\d][\w.]*)!)?\$?(?P<col>[A-Za-z]{1,3})\$?(?P<row>[0-9]+)(?![\w(:!.]))
    |(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<op>[-+*/()])
    )""",
    re.VERBOSE,
)
_SUPPORTED = "pcfx evaluates numbers, cells of this workbook, + - * / and ( ); type the value instead"


def _column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def _letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass
class Sheet:
    """One sheet's cells: raw values (a formula as its text), which are formulas, Excel's saved values, and
    the column names of its header row (to name a derived factor's inputs)."""

    title: str
    rows: list[list[Any]]
    formulas: set[tuple[int, int]]
    cached: list[list[Any]]
    columns: dict[int, str] = field(default_factory=dict)

    def raw(self, r: int, c: int) -> Any:
        return self.rows[r][c] if r < len(self.rows) and c < len(self.rows[r]) else None

    def saved(self, r: int, c: int) -> Any:
        return self.cached[r][c] if r < len(self.cached) and c < len(self.cached[r]) else None


@dataclass(frozen=True)
class Derivation:
    """A formula cell's value and the formula over named inputs it was computed by."""

    value: Any
    named: str
    inputs: dict[str, Decimal]


class WorkbookCells:
    """Every sheet of a workbook, evaluating formula cells on demand (each once)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.sheets: dict[str, Sheet] = {}
        self._done: dict[tuple[str, int, int], Derivation] = {}
        self._active: list[tuple[str, int, int]] = []

    def add(self, sheet: Sheet) -> None:
        self.sheets[sheet.title.lower()] = sheet

    def where(self, sheet: Sheet, r: int, c: int) -> str:
        return f"{self.label} sheet {sheet.title} cell {_letters(c)}{r + 1}"

    def value(self, sheet: Sheet, r: int, c: int) -> Any:
        """The cell's value: its raw value, or its formula's value."""
        if (r, c) not in sheet.formulas:
            return sheet.raw(r, c)
        return self.derive(sheet, r, c).value

    def derive(self, sheet: Sheet, r: int, c: int) -> Derivation:
        """The formula cell's value with the named formula and inputs it came from."""
        key = (sheet.title.lower(), r, c)
        if key in self._done:
            return self._done[key]
        text = str(sheet.raw(r, c))
        if key in self._active:
            raise InventoryError(f"formula {text} refers back to itself", location=self.where(sheet, r, c))
        if len(self._active) >= MAX_DEPTH:
            raise InventoryError(
                f"formula {text} is the end of a chain of more than {MAX_DEPTH} formulas",
                location=self.where(sheet, r, c),
            )
        self._active.append(key)
        try:
            derived = self._evaluate(sheet, r, c, text)
        finally:
            self._active.pop()
        self._check_saved(sheet, r, c, text, derived.value)
        self._done[key] = derived
        return derived

    def _tokens(self, sheet: Sheet, r: int, c: int, text: str) -> list[re.Match[str]]:
        body = text[1:] if text.startswith("=") else text
        tokens: list[re.Match[str]] = []
        pos = 0
        while body[pos:].strip():
            match = _TOKEN.match(body, pos)
            if match is None or match.end() == pos:
                rest = body[pos:].strip()
                shown = rest if len(rest) <= 24 else rest[:24] + "..."
                raise InventoryError(
                    f"cannot evaluate formula {text}: {shown!r} is not supported ({_SUPPORTED})",
                    location=self.where(sheet, r, c),
                )
            tokens.append(match)
            pos = match.end()
        if not tokens:
            raise InventoryError(f"formula {text} is empty", location=self.where(sheet, r, c))
        return tokens

    def _target(
        self, sheet: Sheet, r: int, c: int, text: str, match: re.Match[str]
    ) -> tuple[Sheet, int, int]:
        name = match.group("sheet")
        target = sheet
        if name is not None:
            title = name[1:-1].replace("''", "'") if name.startswith("'") else name
            found = self.sheets.get(title.lower())
            if found is None:
                raise InventoryError(
                    f"cannot evaluate formula {text}: there is no sheet {title!r}",
                    location=self.where(sheet, r, c),
                )
            target = found
        return target, int(match.group("row")) - 1, _column_index(match.group("col"))

    def _name(self, sheet: Sheet, r: int, target: Sheet, tr: int, tc: int) -> str:
        ref = f"{_letters(tc)}{tr + 1}"
        if target is sheet and tr == r and tc in sheet.columns:
            return sheet.columns[tc]
        if target is sheet:
            return ref
        prefix = re.sub(r"\W", "_", target.title)
        return f"{prefix}_{ref}" if prefix[:1].isalpha() else f"sheet_{prefix}_{ref}"

    def _evaluate(self, sheet: Sheet, r: int, c: int, text: str) -> Derivation:
        tokens = self._tokens(sheet, r, c, text)
        if len(tokens) == 1 and tokens[0].group("ref"):  # =B5 or =inputs!B2: the referenced value as it is
            target, tr, tc = self._target(sheet, r, c, text, tokens[0])
            value = self._referenced(sheet, r, c, text, target, tr, tc)
            name = self._name(sheet, r, target, tr, tc)
            inputs = {name: value} if isinstance(value, Decimal) else {}
            return Derivation(value, name, inputs)
        parts: list[str] = []
        inputs: dict[str, Decimal] = {}
        seen: dict[str, tuple[str, int, int]] = {}  # which cell each input name stands for
        for match in tokens:
            if not match.group("ref"):
                parts.append(match.group("num") or match.group("op"))
                continue
            target, tr, tc = self._target(sheet, r, c, text, match)
            cell = (target.title, tr, tc)
            name = self._name(sheet, r, target, tr, tc)
            while seen.get(name, cell) != cell:
                name += "_"
            seen[name] = cell
            if name not in inputs:
                value = self._referenced(sheet, r, c, text, target, tr, tc)
                try:
                    inputs[name] = number(value, f"cell {_letters(tc)}{tr + 1}")
                except FormulaError as exc:
                    raise InventoryError(
                        f"cannot evaluate formula {text}: {exc}", location=self.where(sheet, r, c)
                    ) from None
            parts.append(name)
        named = " ".join(parts).replace("( ", "(").replace(" )", ")")
        try:
            value = evaluate(named, inputs)
        except FormulaError as exc:
            raise InventoryError(
                f"cannot evaluate formula {text}: {exc}", location=self.where(sheet, r, c)
            ) from None
        return Derivation(value, named, inputs)

    def _referenced(self, sheet: Sheet, r: int, c: int, text: str, target: Sheet, tr: int, tc: int) -> Any:
        value = self.value(target, tr, tc)
        if value is None or (isinstance(value, str) and not value.strip()):
            ref = f"{_letters(tc)}{tr + 1}" + ("" if target is sheet else f" of sheet {target.title}")
            raise InventoryError(
                f"cannot evaluate formula {text}: cell {ref} is empty", location=self.where(sheet, r, c)
            )
        if isinstance(value, float | int) and not isinstance(value, bool):
            return number(value, "cell")
        return value

    def _check_saved(self, sheet: Sheet, r: int, c: int, text: str, value: Any) -> None:
        saved = sheet.saved(r, c)
        if saved is None or isinstance(saved, bool):
            return
        if isinstance(saved, int | float) and isinstance(value, Decimal):
            excel = number(saved, "saved value")
            if abs(excel - value) <= TOLERANCE * max(abs(excel), abs(value)) or excel == value:
                return
        elif not isinstance(saved, int | float) and str(saved) == str(value):
            return
        raise InventoryError(
            f"formula {text} gives {value} here but the value Excel saved is {saved}: were its inputs changed "
            "after Excel last calculated? Open the workbook in Excel and save it, or check the formula",
            location=self.where(sheet, r, c),
        )


@dataclass(frozen=True)
class FormulaCell:
    """A formula cell of a table, evaluated when its value is read."""

    book: WorkbookCells
    sheet: Sheet
    row: int
    column: int

    @property
    def text(self) -> str:
        return str(self.sheet.raw(self.row, self.column))

    def resolve(self) -> Any:
        """The formula's value (a Decimal, or what a single reference names)."""
        return self.book.value(self.sheet, self.row, self.column)

    def derivation(self) -> Derivation:
        """The value with its formula over named inputs (for a derived factor's provenance)."""
        return self.book.derive(self.sheet, self.row, self.column)
