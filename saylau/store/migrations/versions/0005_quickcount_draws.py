"""Quick-count draws recorded by ingest (issue 16): one sample per election, at once.

The 409 for a second draw used to read the projected sample, so two draws within the
projection's lag could both be accepted (a second sample to pick from). Ingest now records
each accepted draw in its own table, under a lock per election, like the dedup ids.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quickcount_draws",
        sa.Column("election_id", sa.Text, primary_key=True),
        sa.Column("sample_id", sa.Text, nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("quickcount_draws")
