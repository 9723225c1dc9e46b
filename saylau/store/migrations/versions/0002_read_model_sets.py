"""Read-model sets: which schema serves the read models, at which projection version.

``saylau rebuild`` builds a new set next to the serving one and switches to it; this table
(in the ingest schema, which is never rebuilt) records every set, so the operator sees what
serves, what was retired and can be dropped, and which projection version built each.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_model_sets",
        sa.Column("schema_name", sa.Text, primary_key=True),
        sa.Column("read_schema", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("switched_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("read_model_sets")
