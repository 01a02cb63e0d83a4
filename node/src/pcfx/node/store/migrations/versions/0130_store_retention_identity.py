"""Quarantine kept once per content (SHA-256) with a count and first/last seen, its retention (kept bytes,
age index, dropped totals), and the store's own facts (the identity of the node it belongs to)

Revision ID: 0130
Revises: 0120
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0130"
down_revision = "0120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("times_seen", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("stored_size", sa.Integer(), nullable=False, server_default="0"))
    # Rows quarantined again before this revision (every restart, every resubscription) become one row per
    # content: the first, counting the others and seen last when the newest was. (The index makes the
    # per-content look-ups of a large quarantine one seek each.)
    op.create_index("ix_quarantine_sha256_upgrade", "quarantine", ["sha256"])
    op.execute("UPDATE quarantine SET last_seen_at = received_at, stored_size = length(raw)")
    op.execute(
        "UPDATE quarantine SET"
        " times_seen = (SELECT count(*) FROM quarantine q WHERE q.sha256 = quarantine.sha256),"
        " last_seen_at = (SELECT max(q.received_at) FROM quarantine q WHERE q.sha256 = quarantine.sha256)"
        " WHERE id IN (SELECT min(id) FROM quarantine GROUP BY sha256 HAVING count(*) > 1)"
    )
    op.execute("DELETE FROM quarantine WHERE id NOT IN (SELECT min(id) FROM quarantine GROUP BY sha256)")
    op.drop_index("ix_quarantine_sha256_upgrade", table_name="quarantine")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.alter_column("last_seen_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column("times_seen", existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column("stored_size", existing_type=sa.Integer(), server_default=None)
        batch_op.drop_index("ix_quarantine_stream_seq")
        batch_op.create_unique_constraint("uq_quarantine_sha256", ["sha256"])
        batch_op.create_index("ix_quarantine_age", ["last_seen_at", "stored_size"], unique=False)
    op.create_table(
        "quarantine_dropped",
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("messages_dropped", sa.BigInteger(), nullable=False),
        sa.Column("bytes_dropped", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("cause"),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("store_meta")
    op.drop_table("quarantine_dropped")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_age")
        batch_op.drop_constraint("uq_quarantine_sha256", type_="unique")
        batch_op.create_index(batch_op.f("ix_quarantine_stream_seq"), ["stream_seq"], unique=False)
        batch_op.drop_column("stored_size")
        batch_op.drop_column("times_seen")
        batch_op.drop_column("last_seen_at")
