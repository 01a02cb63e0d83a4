"""SQLModel tables of the PACT exchange API: OAuth clients, access rules, unsigned third-party footprints.

Created by the Alembic migration `0100_pact_tables`. Client secrets are stored only as scrypt hashes.
"""

from __future__ import annotations

from datetime import datetime

from pcfx.node.store.models import UTCDateTime
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ["PactAccessRule", "PactClient", "UnsignedFootprint"]


class PactClient(SQLModel, table=True):
    """A data recipient (buyer) allowed to call this node's PACT API."""

    __tablename__ = "pact_client"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=128, unique=True, index=True)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=256, description="scrypt$n$r$p$salt$hash; never the secret.")
    scopes: str = Field(max_length=256, description="Space-separated OAuth scopes.")
    buyer_did: str | None = Field(
        default=None,
        max_length=512,
        description="The buyer company (DID) the client acts for: it may read products restricted to it.",
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PactAccessRule(SQLModel, table=True):
    """`client_id` may read the footprints whose id or product id is `subject` (others may not)."""

    __tablename__ = "pact_access_rule"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("subject", "client_id", name="uq_pact_access_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=512, index=True, description="Footprint UUID or product id URN.")
    client_id: str = Field(max_length=128, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class UnsignedFootprint(SQLModel, table=True):
    """A plain PACT footprint pulled from a host that does not sign (third-party data, unverified)."""

    __tablename__ = "pact_unsigned_footprint"  # pyright: ignore[reportAssignmentType]  # SQLModel stub: declared_attr
    __table_args__ = (UniqueConstraint("footprint_id", "source", name="uq_pact_unsigned_footprint"),)

    id: int | None = Field(default=None, primary_key=True)
    footprint_id: str = Field(max_length=64, index=True)
    source: str = Field(max_length=1024, description="Base URL of the PACT host it came from.")
    company_name: str = Field(max_length=512)
    product_ids: str = Field(sa_column=Column(Text(), nullable=False), description="JSON list of URNs.")
    status: str = Field(max_length=16)
    footprint_created: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    document: str = Field(sa_column=Column(Text(), nullable=False), description="PACT v3 JSON as received.")
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
