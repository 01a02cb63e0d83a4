"""Quarantine: index on the stream sequence (a redelivered stream message is quarantined once)

Revision ID: 0110
Revises: 0100
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_stream_seq"), ["stream_seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_stream_seq"))
