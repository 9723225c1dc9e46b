"""Dashboard sessions: sign-in without keys in URLs (issue 14).

The dashboard posts the key once; the api stores only the hash of the random session id
(the HttpOnly cookie) and the hash of the key it stands for, so every api replica accepts the
session and revoking the key ends it.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("session_hash", sa.Text, primary_key=True),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
