"""Observers sign in with a PIN (issue 30): PIN hashes with their lock-out, and tokens.

``saylau observers issue-pin`` stores an argon2id hash of each observer's PIN;
``POST /v1/observer/session`` counts wrong PINs in a row there (five lock her out for 15
minutes) and stores the SHA-256 of each token it issues, never the token.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observer_pins",
        sa.Column("observer_id", sa.Text, primary_key=True),
        sa.Column("pin_hash", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("failures", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        if_not_exists=True,
    )
    op.create_table(
        "observer_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("observer_id", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_observer_tokens_observer_id", "observer_tokens", ["observer_id"],
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_table("observer_tokens")
    op.drop_table("observer_pins")
