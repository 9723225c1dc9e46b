"""People at the centre sign in with accounts bound to a role and regions (issue 31).

``saylau users add`` stores an argon2id hash of each account's password, its role and the
canonical regions a coordinator is bound to; wrong passwords lock it out as wrong PINs lock
an observer. Keys may be bound to regions too (``api_keys.regions``; NULL or empty: the whole
country). A dashboard session stands for a key (``key_hash``) or an account (``login``) and
holds the hash of its CSRF token, which every write made with the session must carry.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("login", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("regions", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("failures", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        if_not_exists=True,
    )
    op.add_column("api_keys", sa.Column("regions", ARRAY(sa.Text)), if_not_exists=True)
    op.alter_column("dashboard_sessions", "key_hash", nullable=True)
    op.add_column("dashboard_sessions", sa.Column("login", sa.Text), if_not_exists=True)
    op.add_column("dashboard_sessions", sa.Column("csrf_hash", sa.Text), if_not_exists=True)


def downgrade() -> None:
    op.drop_column("dashboard_sessions", "csrf_hash")
    op.drop_column("dashboard_sessions", "login")
    op.execute("DELETE FROM dashboard_sessions WHERE key_hash IS NULL")
    op.alter_column("dashboard_sessions", "key_hash", nullable=False)
    op.drop_column("api_keys", "regions")
    op.drop_table("staff_accounts")
