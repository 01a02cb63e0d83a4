"""GWP-set integrity: which IPCC report each value's CO2e rests on, compared with the calculation's set.

Gas-level data (kg CO2, CH4, N2O, ... from a factor's gas or components, or a direct emission) are characterised
here under the calculation's set, so they always match it. A value given in CO2e (a factor, a supplier's declared
footprint) was characterised by its source with the report(s) the source states; pcfx never relabels it. Against
the calculation's set such a value *matches*, is a *mismatch* (another report: reported per input, its temporal
DQR lowered, and refused under the policy `gwp_mismatch = refuse`), or is *unknown* (its source states no report,
as China's life-cycle electricity factors: reported per input; neither refused nor rated down, since nothing
says it differs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pcfx.node.engine.errors import InventoryError
from pcfx.node.engine.result import GwpCheck

if TYPE_CHECKING:
    from pcfx.node.engine.factors import Factor, GasComponent
    from pcfx.node.engine.supplier import SupplierValue

__all__ = [
    "GAS_LEVEL",
    "GWP_POLICIES",
    "NO_BASIS",
    "GwpBasis",
    "GwpReview",
    "co2e_basis",
    "components_basis",
    "dqr_penalty",
    "factor_basis",
    "review_gwp",
    "supplier_basis",
]

GWP_POLICIES = ("warn", "refuse")


@dataclass(frozen=True)
class GwpBasis:
    """What a value's emissions rest on: IPCC reports of its CO2e part, an unstated report, gas-level data."""

    sets: frozenset[str] = frozenset()
    unknown: bool = False  # a CO2e part whose source states no report
    gas_level: bool = False  # gas masses, characterised here under the calculation's set

    def __or__(self, other: GwpBasis) -> GwpBasis:
        return GwpBasis(
            self.sets | other.sets, self.unknown or other.unknown, self.gas_level or other.gas_level
        )

    def status(self, calculation: str) -> str:
        """mismatch | unknown | matches | recharacterised (a line may mix; the worst wins)."""
        if self.sets - {calculation}:
            return "mismatch"
        if self.unknown:
            return "unknown"
        return "matches" if self.sets else "recharacterised"


GAS_LEVEL = GwpBasis(gas_level=True)
NO_BASIS = GwpBasis()  # emits nothing


def co2e_basis(gwp: str | None) -> GwpBasis:
    """The basis of a CO2e value whose source states `gwp` (None or "unknown": not stated)."""
    if gwp is None or gwp == "unknown":
        return GwpBasis(unknown=True)
    return GwpBasis(sets=frozenset({gwp}))


def components_basis(components: Iterable[GasComponent], gwp: str | None) -> GwpBasis:
    """The basis of emissions by gas: CO2e components rest on `gwp`, any other gas is gas-level."""
    basis = GwpBasis()
    for c in components:
        if c.amount != 0:
            basis = basis | (co2e_basis(gwp) if c.gas.upper() == "CO2E" else GAS_LEVEL)
    return basis


def factor_basis(factor: Factor) -> GwpBasis:
    return components_basis(factor.gas_components(), factor.gwp)


def supplier_basis(value: SupplierValue) -> GwpBasis:
    """A declared footprint is CO2e; its reports are the declaration's ipccCharacterizationFactors."""
    return GwpBasis(unknown=True) if value.gwp_sets is None else GwpBasis(sets=frozenset(value.gwp_sets))


def _number(report: str) -> int:
    return int(report[2:])


def dqr_penalty(basis: GwpBasis, calculation: str) -> int:
    """Temporal DQR steps a mismatch costs: one per IPCC report between the value's set and the calculation's.

    A value characterised with another report's GWP100 represents another state of the science than the one the
    result declares, as an old factor represents another year: temporal is the PACT rating that says so (and one
    PACT carries). AR5 under AR6 (or AR6 under AR5) is one step, AR4 under AR6 two; capped at 5 by the caller.
    An unknown set costs nothing: nothing says it differs.
    """
    return max((abs(_number(s) - _number(calculation)) for s in basis.sets), default=0)


def _check(basis: GwpBasis, calculation: str) -> tuple[GwpCheck | None, int]:
    if basis == NO_BASIS:
        return None, 0
    sets = sorted(basis.sets | ({calculation} if basis.gas_level else set()), key=_number)
    penalty = dqr_penalty(basis, calculation)
    status = basis.status(calculation)
    return GwpCheck(status=status, sets=sets, dqr_temporal_penalty=penalty), penalty  # type: ignore[arg-type]


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


@dataclass
class GwpReview:
    """The GWP check of every line of one evaluation."""

    checks: list[GwpCheck | None]
    penalties: list[int]
    sets_used: list[str]
    warnings: list[str] = field(default_factory=list)


def review_gwp(
    *,
    keys: Sequence[str],
    bases: Sequence[GwpBasis],
    what: Sequence[str],
    co2e_part: np.ndarray,
    cutoff: np.ndarray,
    calculation: str,
    policy: str,
    locate: Callable[[int], str | None],
) -> GwpReview:
    """Compare each line's basis with the calculation's set; `co2e_part` is each line's kg CO2e per declared unit
    from values given as CO2e (a value that contributes nothing is not checked). Refuses a mismatch under
    policy "refuse" (InventoryError at the line's location)."""
    checks: list[GwpCheck | None] = []
    penalties: list[int] = []
    used = {calculation}
    mismatches: list[str] = []
    unknown: dict[str, list[str]] = {}  # value -> the lines using it
    known: dict[GwpBasis, tuple[GwpCheck | None, int]] = {}  # a system has few distinct bases, many lines
    for i, basis in enumerate(bases):
        if co2e_part[i] == 0:
            basis = GAS_LEVEL if basis.gas_level else NO_BASIS
        if basis not in known:
            known[basis] = _check(basis, calculation)
        check, penalty = known[basis]
        checks.append(check)
        penalties.append(penalty)
        if check is None:
            continue
        if not cutoff[i]:
            used |= basis.sets
        if check.status == "mismatch":
            declared = "+".join(sorted(basis.sets, key=_number))
            if policy == "refuse":
                raise InventoryError(
                    f"'{keys[i]}': {what[i]} is CO2e characterised with {declared}, not the calculation's "
                    f"{calculation} (gwp_mismatch = refuse): use a value characterised with {calculation}, or "
                    f"compute with that GWP set",
                    location=locate(i),
                )
            mismatches.append(
                f"'{keys[i]}': {what[i]} is CO2e characterised with {declared}, not {calculation}; used as "
                f"declared, not relabelled (temporal DQR +{penalty})"
            )
        elif check.status == "unknown":
            unknown.setdefault(what[i], []).append(f"'{keys[i]}'")
    warnings = mismatches
    if unknown:
        listed = "; ".join(f"{value} ({_some(users)})" for value, users in unknown.items())
        warnings.append(f"GWP set not stated by the source, CO2e used as given under {calculation}: {listed}")
    return GwpReview(checks, penalties, sorted(used, key=_number), warnings)
