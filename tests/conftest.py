"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

# Registers the PACT tables on SQLModel.metadata: the store migrations create them, so every comparison of
# the migrated schema with the metadata must see them too.
import pcfx.node.store.pact_tables  # noqa: F401
import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference() -> Path:
    """The shared public reference data (PACT samples, test vectors, GWP tables)."""
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE}; clone pcfx beside shared/")
    return REFERENCE
