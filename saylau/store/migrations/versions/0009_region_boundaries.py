"""A centre's own region boundaries, per election (issue 32).

``saylau map import-regions FILE.geojson --election ID`` replaces an election's rows in one
transaction: one polygonal GeoJSON geometry per canonical region. Stored in PostgreSQL, so
every api replica serves the same map; an election without rows is drawn from the shipped
shape table (Natural Earth admin-1, ``maps/region_shapes.yaml``).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_boundaries",
        sa.Column("election_id", sa.Text, primary_key=True),
        sa.Column("region", sa.Text, primary_key=True),
        sa.Column("geometry", JSONB, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("region_boundaries")
