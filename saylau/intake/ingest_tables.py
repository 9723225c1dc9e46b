"""Ingest's own rows (not read models, never replayed): accepted ids for dedup and routing,
and the stations it appended ``station.registered`` for."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from saylau.intake.outcome import Pending
from saylau.log.identity import LogMismatch, check_dedup

log = logging.getLogger("saylau.ingest")

LOOKUP = ("SELECT event_id, content_hash, kafka_key, NULL::text AS station_id "
          "FROM accepted_events WHERE event_id = ANY($1::uuid[]) "
          "UNION ALL SELECT NULL, NULL, NULL, station_id FROM known_stations "
          "WHERE station_id = ANY($2::text[])")
"""Dedup, report routing and known stations in one round trip."""


@dataclass
class Known:
    """What ingest already recorded about a group's ids and stations."""

    hashes: dict[uuid.UUID, str] = field(default_factory=dict)
    keys: dict[uuid.UUID, str] = field(default_factory=dict)
    stations: set[str] = field(default_factory=set)


async def lookup(pool: asyncpg.Pool, ids: Iterable[uuid.UUID],
                 stations: Iterable[str]) -> Known:
    """The dedup fingerprint (column ``content_hash``: the keyed fingerprint of the plaintext
    envelope, see ``saylau.intake.personal``) and Kafka key of each id accepted before, and
    which of ``stations`` ingest registered: one query, none when there is nothing to look
    up."""
    ids, stations = list(dict.fromkeys(ids)), sorted(set(stations))
    known = Known()
    if not ids and not stations:
        return known
    for r in await pool.fetch(LOOKUP, ids, stations):
        if r["station_id"] is not None:
            known.stations.add(r["station_id"])
        else:
            known.hashes[r["event_id"]] = r["content_hash"]
            known.keys[r["event_id"]] = r["kafka_key"]
    return known


async def remember(pool: asyncpg.Pool, accepted: list[tuple[Pending, Any]],
                   now: datetime) -> None:
    """Record acknowledged ids for duplicate detection (the projector dedups too)."""
    if not accepted:
        return
    try:
        await pool.execute(
            "INSERT INTO accepted_events (event_id, content_hash, kafka_key, "
            "kafka_partition, kafka_offset, partner, received_at) SELECT * FROM unnest("
            "$1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], "
            "$7::timestamptz[]) ON CONFLICT DO NOTHING",
            [p.envelope.event_id for p, _ in accepted], [p.fingerprint for p, _ in accepted],
            [p.key for p, _ in accepted], [m.partition for _, m in accepted],
            [m.offset for _, m in accepted], [p.partner for p, _ in accepted],
            [now] * len(accepted))
        registered = sorted({p.envelope.station_id for p, _ in accepted
                             if p.envelope.type == "station.registered" and p.envelope.station_id})
        if registered:
            await pool.execute(
                "INSERT INTO known_stations (station_id, registered_at) SELECT s, $2 "
                "FROM unnest($1::text[]) AS s ON CONFLICT DO NOTHING", registered, now)
    except (asyncpg.PostgresError, OSError) as exc:
        log.error("acknowledged events not remembered for dedup: %s", exc)


async def claim_log(pool: asyncpg.Pool, schema: str, topic: str, topic_id: str,
                    end_offsets: dict[int, int]) -> None:
    """Record that ``schema``'s dedup table belongs to ``topic_id``, or raise LogMismatch
    when it belongs to another log (recreated topic, new cluster, restored backup)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(8675310)")
        recorded = await conn.fetchval(
            f'SELECT topic_id FROM "{schema}".log_identity WHERE topic = $1', topic)
        rows = await conn.fetch(f'SELECT kafka_partition, max(kafka_offset) AS last FROM '
                                f'"{schema}".accepted_events GROUP BY kafka_partition')
        problem = check_dedup(topic, schema, recorded,
                              {r["kafka_partition"]: r["last"] for r in rows}, topic_id,
                              end_offsets)
        if problem:
            raise LogMismatch(problem)
        if recorded is None:
            await conn.execute(f'INSERT INTO "{schema}".log_identity (topic, topic_id) '
                               "VALUES ($1, $2) ON CONFLICT DO NOTHING", topic, topic_id)


async def record_log(conn: asyncpg.Connection, schema: str, topic: str, topic_id: str) -> None:
    """Say ``schema``'s dedup table belongs to ``topic_id`` (after a verified move)."""
    await conn.execute(f'INSERT INTO "{schema}".log_identity (topic, topic_id) VALUES ($1, $2) '
                       "ON CONFLICT (topic) DO UPDATE SET topic_id = EXCLUDED.topic_id",
                       topic, topic_id)
