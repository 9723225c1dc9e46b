"""Proposed index of stored evidence (the lead moves it into the shared ``MetaData``).

The storage itself is the truth (files named by hash, a record beside each); this table
lets ingest check a report's references and the api list files by partner and time.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, MetaData, Table, Text

metadata = MetaData()

evidence_files = Table(
    "evidence_files", metadata,
    Column("sha256", Text, primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("derivative_sha256", Text),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("partner", Text, index=True),
    CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="evidence_sha256_is_hex"),
    CheckConstraint("derivative_sha256 IS NULL OR derivative_sha256 ~ '^[0-9a-f]{64}$'",
                    name="evidence_derivative_is_hex"),
)
