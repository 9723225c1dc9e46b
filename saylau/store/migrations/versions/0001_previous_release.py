"""The ingest schema as the release before versioned migrations left it.

That release created these tables with ``CREATE TABLE IF NOT EXISTS`` at every start and kept
no version; so this revision is the same statements, frozen here: on a schema of that release
it changes nothing and stamps it, on an empty schema it creates everything.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PREVIOUS_RELEASE = (
    """CREATE TABLE IF NOT EXISTS accepted_events (
        event_id UUID NOT NULL, content_hash TEXT NOT NULL, kafka_key TEXT NOT NULL,
        kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, partner TEXT NOT NULL,
        received_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (event_id))""",
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_hash TEXT NOT NULL, partner TEXT NOT NULL, scopes TEXT[] NOT NULL,
        revoked_at TIMESTAMP WITH TIME ZONE,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, PRIMARY KEY (key_hash))""",
    """CREATE TABLE IF NOT EXISTS known_stations (
        station_id TEXT NOT NULL, registered_at TIMESTAMP WITH TIME ZONE NOT NULL,
        PRIMARY KEY (station_id))""",
    """CREATE TABLE IF NOT EXISTS personal_data_keys (
        key_id TEXT NOT NULL, wrapped_key BYTEA, wrapped_by TEXT NOT NULL, blind_index BYTEA,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        erased_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (key_id))""",
    """CREATE INDEX IF NOT EXISTS personal_data_keys_blind_index ON personal_data_keys
        (blind_index)""",
    """CREATE TABLE IF NOT EXISTS log_identity (
        topic TEXT NOT NULL, topic_id TEXT NOT NULL, PRIMARY KEY (topic))""",
    """CREATE TABLE IF NOT EXISTS webhook_cursor (
        read_schema TEXT NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (read_schema))""",
    """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
        subscription_id UUID NOT NULL, partner TEXT NOT NULL, url TEXT NOT NULL,
        kinds TEXT[] NOT NULL, region TEXT, secret TEXT NOT NULL, after_cursor BIGINT NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        deleted_at TIMESTAMP WITH TIME ZONE, PRIMARY KEY (subscription_id))""",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        delivery_id UUID NOT NULL, subscription_id UUID NOT NULL, cursor BIGINT NOT NULL,
        kind TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER DEFAULT 0 NOT NULL, next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, PRIMARY KEY (delivery_id),
        FOREIGN KEY(subscription_id) REFERENCES webhook_subscriptions (subscription_id))""",
    """CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries
        (next_attempt_at) WHERE status = 'pending'""",
    """CREATE INDEX IF NOT EXISTS webhook_deliveries_log ON webhook_deliveries
        (subscription_id, cursor)""",
    """CREATE TABLE IF NOT EXISTS webhook_attempts (
        delivery_id UUID NOT NULL, attempt INTEGER NOT NULL,
        attempted_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, status_code INTEGER,
        error TEXT, duration_ms INTEGER NOT NULL, PRIMARY KEY (delivery_id, attempt),
        FOREIGN KEY(delivery_id) REFERENCES webhook_deliveries (delivery_id))""",
)


def upgrade() -> None:
    for statement in PREVIOUS_RELEASE:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the release before versioned migrations is not a target")
