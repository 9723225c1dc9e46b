"""Chain anchors at the edges: read the log's heads, load the operator key, append a checkpoint.

The signing and the proof are pure (``saylau.log.checkpoint``); this module does the I/O the
``saylau checkpoint`` command (and, later, a periodic publisher) needs. What auditors fetch
needs no table of its own: every checkpoint appended is a ``chain.checkpointed`` row of the
``events`` read model (``record->'payload'`` is the signed checkpoint, ``occurred_at`` its
time), so ``GET /v1/audit/checkpoints`` can list them newest first with the public keys they
name. Each checkpoint appended starts a one-link chain of its own (as a new ingest instance
would), so checkpoints never depend on each other's links.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from saylau.audit.logsource import KafkaLog
from saylau.catalogue import catalogue
from saylau.envelope import Envelope, canonical, content_hash, partition_key
from saylau.log.chain import ChainHead
from saylau.log.checkpoint import EVENT_TYPE, Mark, marks_of, public_key_hex, sign
from saylau.log.decode import Message
from saylau.log.kafka import make_producer, partition_for
from saylau.settings import Settings

TAIL = 64
"""Records read back from each partition's end to find its last chained record."""
OPERATOR = "operator"
"""The ``partner`` of records the operator's own tools append."""


class NoKey(LookupError):
    """No operator key is configured, or it cannot be read."""


def signing_key(cfg: Settings) -> Ed25519PrivateKey:
    """The operator key: ``SAYLAU_CHECKPOINT_KEY`` (PEM text) or ``SAYLAU_CHECKPOINT_KEY_FILE``."""
    if cfg.saylau_checkpoint_key:
        pem = cfg.saylau_checkpoint_key.encode()
    elif cfg.saylau_checkpoint_key_file:
        try:
            pem = Path(cfg.saylau_checkpoint_key_file).read_bytes()
        except OSError as exc:
            raise NoKey(f"cannot read SAYLAU_CHECKPOINT_KEY_FILE: {exc}") from None
    else:
        raise NoKey("no operator key: set SAYLAU_CHECKPOINT_KEY_FILE (create one with "
                    "'saylau checkpoint --new-key')")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise NoKey(f"the operator key is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise NoKey("the operator key is not an Ed25519 key")
    return key


def new_key_pem() -> bytes:
    """A fresh Ed25519 key as unencrypted PKCS#8 PEM (what ``openssl genpkey`` writes)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


async def read_marks(bootstrap: str, topic: str) -> list[Mark]:
    """Each partition's end offset and the chain link of its last chained record."""
    async with KafkaLog(bootstrap, topic) as probe:
        ends = dict(probe.ends)
    tails: dict[int, list[Message]] = {}
    start = {p: max(end - TAIL, 0) for p, end in ends.items()}
    async with KafkaLog(bootstrap, topic, "partition", start=start, stop=ends) as log:
        async for chunk in log.chunks(TAIL):
            tails.setdefault(chunk[0].partition, []).extend(chunk)
    return marks_of(ends, tails)


async def take_checkpoint(cfg: Settings, topic: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A signed checkpoint of ``topic`` as it stands now."""
    marks = await read_marks(cfg.kafka_bootstrap, topic)
    return sign(topic, datetime.now(UTC), marks, key)


def checkpoint_record(checkpoint: dict[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    """The ``chain.checkpointed`` event as ingest would store it (without its chain link),
    and its partition key."""
    event = Envelope(event_id=uuid.uuid4(), type=EVENT_TYPE, schema_version=1,
                     occurred_at=datetime.fromisoformat(checkpoint["taken_at"]),
                     source="saylau-checkpoint", payload=checkpoint)
    wire = event.wire()
    errors = catalogue().validate(EVENT_TYPE, 1, checkpoint)
    if errors:
        raise ValueError(f"checkpoint does not match its schema: {errors[0].loc}: {errors[0].msg}")
    return partition_key(event), {**wire, "received_at": now.isoformat(), "partner": OPERATOR,
                                  "content_hash": content_hash(wire)}


async def append_checkpoint(cfg: Settings, topic: str,
                            checkpoint: dict[str, Any]) -> tuple[int, int]:
    """Append ``checkpoint`` to the log as a ``chain.checkpointed`` event on a chain of its own;
    returns its partition and offset."""
    key, record = checkpoint_record(checkpoint, datetime.now(UTC))
    producer = make_producer(cfg)
    await producer.start()
    try:
        partition = partition_for(key, len(await producer.partitions_for(topic)))
        ChainHead().seal(record)
        meta = await producer.send_and_wait(topic, canonical(record), key=key.encode(),
                                            partition=partition)
    finally:
        await producer.stop()
    return meta.partition, meta.offset



PUBLISHER_LOCK = 8675311


async def publish_if_due(cfg: Settings, key: Ed25519PrivateKey) -> dict[str, Any] | None:
    """The periodic publisher: take a signed checkpoint of the events topic and append it,
    unless another worker holds the publisher lock or the read models already show one taken
    within half of ``CHECKPOINT_MINUTES``. Returns the checkpoint published, if any."""
    conn = await asyncpg.connect(cfg.dsn, server_settings={"search_path": cfg.read_schema})
    try:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, hashtext($2))",
                                       PUBLISHER_LOCK, cfg.events_topic):
                return None
            newest = await published_checkpoints(conn, 1)
            due = datetime.now(UTC).timestamp() - cfg.checkpoint_minutes * 30
            if newest and datetime.fromisoformat(newest[0]["taken_at"]).timestamp() > due:
                return None
            checkpoint = await take_checkpoint(cfg, cfg.events_topic, key)
            await append_checkpoint(cfg, cfg.events_topic, checkpoint)
            return checkpoint
    finally:
        await conn.close()


def published_public_key(cfg: Settings) -> str | None:
    """The operator's public key (hex): configured, or derived from the key the service holds."""
    if cfg.saylau_checkpoint_public_key:
        return cfg.saylau_checkpoint_public_key
    try:
        return public_key_hex(signing_key(cfg))
    except NoKey:
        return None


CHECKPOINTS_SQL = """
SELECT record->'payload' AS checkpoint FROM events
WHERE type = $1 ORDER BY occurred_at DESC, kafka_partition, kafka_offset LIMIT $2"""


async def published_checkpoints(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """The checkpoints appended to the log (``chain.checkpointed`` events), newest first,
    exactly as signed (so they can be saved as the file ``verify --checkpoints`` reads)."""
    rows = await conn.fetch(CHECKPOINTS_SQL, EVENT_TYPE, limit)
    return [orjson.loads(r["checkpoint"]) for r in rows]
