"""Erasures whose record is not in the log yet (issue 29): ``saylau erase`` deletes the data
keys and keeps the ``personal_data.erased`` event here in one transaction, and appends it
afterwards, so a failed append is retried with the real count instead of lost.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_data_erasures",
        sa.Column("event_id", UUID, primary_key=True),
        sa.Column("request", sa.LargeBinary, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("personal_data_erasures")
