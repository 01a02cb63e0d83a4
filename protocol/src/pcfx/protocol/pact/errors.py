"""Errors raised when a PACT document does not validate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = ["InvalidFootprint"]


class InvalidFootprint(ValueError):
    """The input is not a valid PACT ProductFootprint; ``errors`` lists each violation (pydantic format)."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(message)
        self.errors = list(errors)

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> InvalidFootprint:
        """One line naming the first violation (and how many more), with every violation in ``errors``."""
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        where = ".".join(str(p) for p in errors[0]["loc"]) or "footprint"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return cls(f"{where}: {errors[0]['msg']}{more}", errors)
