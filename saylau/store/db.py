"""PostgreSQL connections, ingest's own tables, and migrations."""
from __future__ import annotations

from typing import Literal

import asyncpg
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, JSONB, UUID

from saylau.store import readsets  # noqa: F401 - defines read_model_sets (ingest schema)
from saylau.store.ddl import INGEST, READ, ddl, table, tables_of

UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # 08: connection lost, refused or rejected
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutdown, starting up, timeout
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
    asyncpg.InternalClientError,  # a pooled connection broken mid-protocol
    OSError, TimeoutError,  # the socket: refused, reset, timed out
)
"""What a lost, restarting or overloaded database raises: answer 503 / retry later.

Only connection-class failures: an error the request caused (classes 22 and 23) is the
caller's to fix, and anything else is a bug; retrying either would never succeed."""
CLOSED = ("connection is closed", "pool is closed", "pool is closing")
"""asyncpg raises a plain InterfaceError with these words for a closed connection or pool."""

ErrorKind = Literal["unavailable", "bad_input", "conflict", "bug"]


def classify(exc: BaseException) -> ErrorKind:
    """Whose fault a database error is: the database's (503), the request's (422 for bad
    data, class 22; 409 for a broken constraint, class 23) or the code's (500)."""
    if isinstance(exc, UNAVAILABLE) or (
            type(exc) is asyncpg.InterfaceError and str(exc).startswith(CLOSED)):
        return "unavailable"
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, asyncpg.PostgresError) and state.startswith("22"):
        return "bad_input"
    if isinstance(exc, asyncpg.PostgresError) and state.startswith("23"):
        return "conflict"
    return "bug"


accepted_events = table(
    "accepted_events", INGEST,
    Column("event_id", UUID, primary_key=True),
    Column("content_hash", Text, nullable=False),
    Column("kafka_key", Text, nullable=False),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BIGINT, nullable=False),
    Column("partner", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
"""Ingest's own tables (dedup ids, API keys, registered station ids): not read models,
never replayed; created and changed by the versioned migrations (``saylau.store.migrations``)."""

api_keys = table(
    "api_keys", INGEST,
    Column("key_hash", Text, primary_key=True),
    Column("partner", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("regions", ARRAY(Text)),
)
"""Partners' keys; ``regions`` binds a key to canonical regions (NULL or empty: national)."""

known_stations = table(
    "known_stations", INGEST,
    Column("station_id", Text, primary_key=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

dashboard_sessions = table(
    "dashboard_sessions", INGEST,
    Column("session_hash", Text, primary_key=True),
    Column("key_hash", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("login", Text),
    Column("csrf_hash", Text),
)
"""Dashboard sign-ins: the hash of the session cookie, and the hash of the key or the login
of the account it stands for; the hash of the CSRF token its writes must carry."""

staff_accounts = table(
    "staff_accounts", INGEST,
    Column("login", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("regions", ARRAY(Text), nullable=False, server_default="{}"),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("disabled_at", DateTime(timezone=True)),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
)
"""People's accounts (``saylau users``): role, the regions a coordinator is bound to, an
argon2id password hash, when it was disabled, and wrong passwords in a row / lock-out."""

region_boundaries = table(
    "region_boundaries", INGEST,
    Column("election_id", Text, primary_key=True),
    Column("region", Text, primary_key=True),
    Column("geometry", JSONB, nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""A centre's own boundaries of an election's canonical regions (``saylau map
import-regions``): one polygonal GeoJSON geometry per region, served by every api replica
instead of the shipped shape table."""

quickcount_draws = table(
    "quickcount_draws", INGEST,
    Column("election_id", Text, primary_key=True),
    Column("sample_id", Text, nullable=False),
    Column("drawn_at", DateTime(timezone=True), nullable=False),
)
"""The quick-count sample ingest accepted last for each election (the 409 for a second draw
reads it, not the projection, so two draws in the projection's lag cannot both pass)."""

personal_data_keys = table(
    "personal_data_keys", INGEST,
    Column("key_id", Text, primary_key=True),
    Column("wrapped_key", LargeBinary),
    Column("wrapped_by", Text, nullable=False),
    Column("blind_index", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("erased_at", DateTime(timezone=True)),
    Index("personal_data_keys_blind_index", "blind_index"),
)
"""Data keys of personal values, wrapped by the master key (``saylau.privacy.store``).
Erasure deletes a value's row and rewrites the table (``VACUUM FULL``), so no old row
version keeps the key; ``erased_at`` is only set on the rows earlier releases kept."""

personal_data_erasures = table(
    "personal_data_erasures", INGEST,
    Column("event_id", UUID, primary_key=True),
    Column("request", LargeBinary, nullable=False),
    Column("event", Text, nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Erasures carried out whose ``personal_data.erased`` event is not in the log yet: written
in the transaction that deletes the keys, deleted once the event is appended, so a failed
append is appended by the next ``saylau erase`` with the real count. ``request`` is a keyed
hash of the names and events asked for (a run of the same request is a retry), never a name."""

evidence_files = table(
    "evidence_files", INGEST,
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
"""Index of the uploaded evidence files (the store itself is the truth: files named by hash,
a record beside each): ingest checks a report's references here, the api lists a file's
media type and privacy derivative from it. First upload wins (partner, received_at)."""


observer_pins = table(
    "observer_pins", INGEST,
    Column("observer_id", Text, primary_key=True),
    Column("pin_hash", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("failures", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
)
"""Observers' PINs, as argon2id hashes only (``saylau observers issue-pin``), with the wrong
PINs in a row since the last good one and the end of a lock-out (``saylau.web.observers``)."""

observer_tokens = table(
    "observer_tokens", INGEST,
    Column("token_hash", Text, primary_key=True),
    Column("observer_id", Text, nullable=False, index=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""Observers' sign-ins: the SHA-256 of each token (never the token), until it expires."""


log_identity = table(
    "log_identity", INGEST,
    Column("topic", Text, primary_key=True),
    Column("topic_id", Text, nullable=False),
)
"""The Kafka topic id ``accepted_events`` belongs to (recorded at ingest's first start)."""


async def connect_pool(dsn: str, min_size: int = 1, max_size: int = 10,
                       search_path: str | None = None,
                       command_timeout: float = 30,
                       session_reset: bool = True) -> asyncpg.Pool:
    """The one way a service opens its pool (``search_path``: that schema first).

    ``session_reset=False`` skips asyncpg's reset query (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL) on every release: for a pool whose users never LISTEN, take
    session locks or SET anything (ingest), it is one round trip per query saved.
    """
    settings = {"search_path": f'"{search_path}"'} if search_path else None
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                     command_timeout=command_timeout, timeout=10,
                                     server_settings=settings,
                                     reset=None if session_reset else _no_reset)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """No reset query on release (asyncpg still rolls back a transaction left open)."""


async def migrate(conn: asyncpg.Connection, schema: str = "live",
                  deferred_indexes: frozenset[str] = frozenset()) -> None:
    """Create the read-model tables in ``schema`` (idempotent). Read models are rebuilt, not
    migrated; the ingest schema has versioned migrations (``saylau.store.migrations.upgrade``).

    ``deferred_indexes``: secondary indexes of the read models not created yet (a replay
    builds them once the log is loaded).

    A schema that already has every table, column and index runs no DDL at all: even
    ``IF NOT EXISTS`` statements lock their table (``ALTER TABLE`` exclusively) before
    finding there is nothing to do, and a service starting beside a projector that is
    writing those tables would deadlock with it (CI saw an api restart fail so)."""
    if await schema_complete(conn, schema, READ, deferred_indexes):
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(8675309)")
        for statement in ddl(schema, READ, deferred_indexes):
            await conn.execute(statement)
        await conn.execute("SET search_path TO DEFAULT")


async def schema_complete(conn: asyncpg.Connection, schema: str, home: str,
                          deferred_indexes: frozenset[str] = frozenset()) -> bool:
    """Whether ``schema`` has every table of ``home`` with all its columns and every
    secondary index not ``deferred`` (read from the catalogue: takes no table lock)."""
    rows = await conn.fetch(
        "SELECT c.relname, c.relkind::text AS kind, a.attname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND c.relkind = 'r' "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'i')", schema)
    indexes = {r["relname"] for r in rows if r["kind"] == "i"}
    columns: dict[str, set[str]] = {}
    for r in rows:
        if r["kind"] == "r":
            columns.setdefault(r["relname"], set()).add(r["attname"])
    for t in tables_of(home):
        if not {c.name for c in t.columns} <= columns.get(t.name, set()):
            return False
        if any(str(ix.name) not in indexes for ix in t.indexes
               if str(ix.name) not in deferred_indexes):
            return False
    return True
