"""A webhook registered by a principal bound to regions receives only those regions'
changes (issue 31): its subscription keeps that principal's regions (``reach``; NULL: the
whole country), taken when it is registered.

Revision ID: 0010
Revises: 0008 (the map's 0009 is reserved: set ``down_revision`` to "0009" once it is
merged, so the revisions form one line)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_subscriptions", sa.Column("reach", ARRAY(sa.Text)),
                  if_not_exists=True)


def downgrade() -> None:
    op.drop_column("webhook_subscriptions", "reach")
