"""Buyer-only declarations: the access policy of own products, the sealed copies sent to buyers (outbox),
and the buyer a PACT client is bound to

Revision ID: 0120
Revises: 0110
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0120"
down_revision = "0110"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=512), nullable=False),
        sa.Column("buyers", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", name="uq_product_access_product"),
    )
    op.create_table(
        "sealed_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.String(length=512), nullable=False),
        sa.Column("buyer", sa.String(length=512), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("msg_id", sa.String(length=640), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("stream_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("declaration_id", "buyer", name="uq_sealed_delivery"),
    )
    with op.batch_alter_table("sealed_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sealed_delivery_declaration_id"), ["declaration_id"], unique=False
        )
    with op.batch_alter_table("pact_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_did", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pact_client", schema=None) as batch_op:
        batch_op.drop_column("buyer_did")
    with op.batch_alter_table("sealed_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sealed_delivery_declaration_id"))
    op.drop_table("sealed_delivery")
    op.drop_table("product_access")
