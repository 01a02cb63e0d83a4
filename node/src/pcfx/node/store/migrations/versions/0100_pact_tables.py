"""PACT exchange API tables: OAuth clients, access rules, unsigned third-party footprints

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pact_access_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "client_id", name="uq_pact_access_rule"),
    )
    with op.batch_alter_table("pact_access_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pact_access_rule_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pact_access_rule_subject"), ["subject"], unique=False)

    op.create_table(
        "pact_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=256), nullable=False),
        sa.Column("scopes", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pact_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pact_client_client_id"), ["client_id"], unique=True)

    op.create_table(
        "pact_unsigned_footprint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("footprint_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("company_name", sa.String(length=512), nullable=False),
        sa.Column("product_ids", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("footprint_created", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("footprint_id", "source", name="uq_pact_unsigned_footprint"),
    )
    with op.batch_alter_table("pact_unsigned_footprint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pact_unsigned_footprint_footprint_id"), ["footprint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pact_unsigned_footprint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pact_unsigned_footprint_footprint_id"))
    op.drop_table("pact_unsigned_footprint")
    with op.batch_alter_table("pact_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pact_client_client_id"))
    op.drop_table("pact_client")
    with op.batch_alter_table("pact_access_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pact_access_rule_subject"))
        batch_op.drop_index(batch_op.f("ix_pact_access_rule_client_id"))
    op.drop_table("pact_access_rule")
