"""Evidence files: the index of uploaded photos, video and documents (issue 17).

The files themselves live in the evidence store (named by SHA-256); this table lets ingest
refuse a report naming a file nobody uploaded, and the api show a file's media type and its
metadata-free derivative.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("derivative_sha256", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner", sa.Text),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="evidence_sha256_is_hex"),
        sa.CheckConstraint("derivative_sha256 IS NULL OR derivative_sha256 ~ '^[0-9a-f]{64}$'",
                           name="evidence_derivative_is_hex"),
        if_not_exists=True,
    )
    op.create_index("ix_evidence_files_partner", "evidence_files", ["partner"],
                    if_not_exists=True)
    op.create_index("ix_evidence_files_received_at", "evidence_files", ["received_at"],
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_table("evidence_files")
