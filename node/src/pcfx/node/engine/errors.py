"""Typed errors of the footprint engine; each names where in the input the problem is."""

from __future__ import annotations

__all__ = ["EngineError", "FactorError", "InventoryError", "UnitError"]


class EngineError(Exception):
    """Base class of every error raised by pcfx.node.engine."""


class InventoryError(EngineError):
    """The inventory is wrong: bad unit, missing item, negative amount, dangling reference.

    `location` is human-readable ("inventory.xlsx sheet inputs cell D7", "plant.yaml line 23");
    `path` is the position in the model (("processes", 2, "inputs", 0, "unit")).
    """

    def __init__(
        self, message: str, *, location: str | None = None, path: tuple[str | int, ...] = ()
    ) -> None:
        self.message = message
        self.location = location
        self.path = path
        super().__init__(f"{location}: {message}" if location else message)

    def at(self, location: str | None) -> InventoryError:
        """The same error, placed at `location` (keeps the subclass)."""
        return type(self)(self.message, location=location, path=self.path)


class UnitError(InventoryError):
    """A unit is unknown, or two units cannot be converted (e.g. kg vs m3 without density)."""


class FactorError(EngineError):
    """An emission factor is unknown, malformed or inconsistent with its parameters."""
