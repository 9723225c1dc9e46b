"""Read-model tables, defined once with SQLAlchemy Core and created in any schema.

The live projector writes schema ``live``; ``saylau replay`` rebuilds into a fresh schema
with the same DDL and the same projection code, so the two can be compared table by table.
"""
from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.schema import CreateIndex, CreateTable

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("event_id", UUID, primary_key=True),
    Column("type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("partner", Text),
    Column("station_id", Text, index=True),
    Column("region", Text),
    Column("city", Text),
    Column("election_id", Text),
    Column("status", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("record", JSONB, nullable=False),
)

station_incidents = Table(
    "station_incidents", metadata,
    Column("station_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("reports", Integer, nullable=False),
    PrimaryKeyConstraint("station_id", "type"),
)

stations = Table(
    "stations", metadata,
    Column("station_id", Text, primary_key=True),
    Column("region", Text),
    Column("city", Text),
    Column("total", Integer, nullable=False),
    Column("last_event_at", DateTime(timezone=True)),
)

city_detentions = Table(
    "city_detentions", metadata,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("detained_total", Integer, nullable=False),
    Column("released_total", Integer, nullable=False),
    PrimaryKeyConstraint("region", "city"),
)

detention_buckets = Table(
    "detention_buckets", metadata,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("detained", Integer, nullable=False),
    Column("reported", Integer, nullable=False),
    PrimaryKeyConstraint("region", "city", "bucket_start"),
)

breaches = Table(
    "breaches", metadata,
    Column("breach_id", UUID, primary_key=True),
    Column("rule_id", Text, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("legal_ref", JSONB),
    Column("event_ids", JSONB, nullable=False),
    Column("station_id", Text),
    Column("region", Text),
    Column("city", Text),
    Column("election_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
)

station_registry = Table(
    "station_registry", metadata,
    Column("station_id", Text, primary_key=True),
    Column("number", Integer),
    Column("region", Text, index=True),
    Column("district", Text),
    Column("city", Text),
    Column("registered_voters", Integer),
    Column("details_stamp", Text),
    Column("address", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("location_stamp", Text),
)
"""Stations as registered (``details``) and moved (``location``): each part is taken from the
latest event that sets it, by its stamp ``occurred_at|event_id``, so order never matters."""

observers = Table(
    "observers", metadata,
    Column("observer_id", Text, primary_key=True),
    Column("organisation", Text),
    Column("name", Text),
    Column("station_id", Text, index=True),
    Column("accreditation_stamp", Text),
    Column("accredited", Boolean, nullable=False),
    Column("status_stamp", Text, nullable=False),
)

incident_groups = Table(
    "incident_groups", metadata,
    Column("location", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("station_id", Text, index=True),
    Column("reports", Integer, nullable=False),
    Column("report_ids", ARRAY(Text), nullable=False),
    PrimaryKeyConstraint("location", "type", "bucket_start"),
)
"""One row per distinct incident: its standing reports (the corroboration count) and their ids."""

station_turnout = Table(
    "station_turnout", metadata,
    Column("station_id", Text, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("voters", Integer, nullable=False),
    Column("event_id", UUID, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("station_id", "hour"),
)

announced_turnout = Table(
    "announced_turnout", metadata,
    Column("region", Text, nullable=False),
    Column("hour", Integer, nullable=False),
    Column("percent", Float, nullable=False),
    Column("stamp", Text, nullable=False),
    PrimaryKeyConstraint("region", "hour"),
)

triage_actions = Table(
    "triage_actions", metadata,
    Column("action_id", UUID, primary_key=True),
    Column("report_id", UUID, nullable=False, index=True),
    Column("kind", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("partner", Text),
    Column("operator", Text),
    Column("note", Text),
)

projector_offsets = Table(
    "projector_offsets", metadata,
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "kafka_partition"),
)

changes = Table(
    "changes", metadata,
    Column("cursor", BigInteger, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("region", Text),
    Column("station_id", Text),
    Column("data", JSONB, nullable=False),
)

change_cursor = Table(
    "change_cursor", metadata,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("topic", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("status", Text, nullable=False),
    PrimaryKeyConstraint("topic", "kafka_partition", "kafka_offset"),
)

READ_MODELS = ("events", "station_incidents", "stations", "city_detentions",
               "detention_buckets", "breaches", "station_registry", "observers",
               "incident_groups", "station_turnout", "announced_turnout", "triage_actions")
"""Tables an audit compares: the projection of the log, nothing about delivery."""


UPGRADES = [
    "ALTER TABLE detention_buckets ADD COLUMN IF NOT EXISTS reported int NOT NULL DEFAULT 0",
]
"""Column additions for schemas created by an earlier release (idempotent)."""


def ddl(schema: str) -> list[str]:
    """CREATE statements for every table, idempotent, inside ``schema``."""
    dialect = postgresql.dialect()
    statements = [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', f'SET search_path TO "{schema}"']
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
        statements += [str(CreateIndex(ix, if_not_exists=True).compile(dialect=dialect))
                       for ix in table.indexes]
    statements += UPGRADES
    statements.append("INSERT INTO change_cursor (id, value) VALUES (1, 0) ON CONFLICT DO NOTHING")
    return statements
