"""Messages from the centre to observers: each broadcast, the observers it reached, who read it.

Whom a ``broadcast.sent`` reached is in the event: ingest names the observers when it is sent
(``observer_ids``, from ``reached`` over the observers, presence and registry read models as
they stand then), so this projection reads no other read model and replay equals live in any
order. A ``broadcast.read`` counts once per observer, at her first reading. The text stays
sealed here (free text, ``x-free-text``); readers open it with their keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import ARRAY, Column, DateTime, Index, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.roles import Reach
from saylau.domain.vocabulary import BROADCAST_READ, BROADCAST_SENT
from saylau.privacy.records import Names
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.store.ddl import READ, table

broadcasts = table(
    "broadcasts", READ,
    Column("broadcast_id", UUID, primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("sender", Text, nullable=False),
    Column("text", JSONB, nullable=False),
    Column("regions", ARRAY(Text), nullable=False),
    Column("station_ids", ARRAY(Text), nullable=False),
    Column("regions_reached", ARRAY(Text), nullable=False),
    Index("broadcasts_sent", "sent_at", "broadcast_id"),
)
"""``regions_reached``: the addressed regions and the addressed stations' (empty: the
whole country), what a regional reader's reach must hold to see the broadcast."""
broadcast_recipients = table(
    "broadcast_recipients", READ,
    Column("broadcast_id", UUID, primary_key=True),
    Column("observer_id", Text, primary_key=True),
    Index("broadcast_recipients_observer", "observer_id"),
)
broadcast_reads = table(
    "broadcast_reads", READ,
    Column("broadcast_id", UUID, primary_key=True),
    Column("observer_id", Text, primary_key=True),
    Column("read_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class BroadcastRows:
    sent: list[tuple[Any, ...]] = field(default_factory=list)
    """(broadcast_id, sent_at, sender, text json, regions, station_ids, regions_reached)."""
    recipients: list[tuple[Any, str]] = field(default_factory=list)
    """(broadcast_id, observer_id) of each observer a broadcast reached."""
    reads: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """(broadcast_id, observer_id) → the earliest read in the batch."""


def fold(batch: Batch, config: RuleConfig) -> BroadcastRows:
    rows = BroadcastRows()
    for c in batch.counted:
        e, p = c.event, c.event.payload
        if c.sign > 0 and e.type == BROADCAST_SENT:
            rows.sent.append((e.event_id, e.occurred_at, p["sender"],
                              orjson.dumps(p["text"]).decode(), p.get("regions", []),
                              p.get("station_ids", []), p.get("regions_reached", [])))
            rows.recipients += [(e.event_id, o) for o in p["observer_ids"]]
        elif c.sign > 0 and e.type == BROADCAST_READ:
            key = (str(p["broadcast_id"]).lower(), p["observer_id"])
            rows.reads[key] = min(rows.reads.get(key, e.occurred_at), e.occurred_at)
    return rows


async def write(conn: asyncpg.Connection, rows: BroadcastRows, config: RuleConfig
                ) -> list[Change]:
    if rows.sent:
        await conn.executemany(INSERT_SENT, rows.sent)
        await conn.execute(INSERT_RECIPIENTS, *columns(rows.recipients, 2))
    if rows.reads:
        keys = sorted(rows.reads)
        await conn.execute(INSERT_READS, [k[0] for k in keys], [k[1] for k in keys],
                           [rows.reads[k] for k in keys])
    return []


INSERT_SENT = (
    "INSERT INTO broadcasts (broadcast_id, sent_at, sender, text, regions, station_ids, "
    "regions_reached) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) "
    "ON CONFLICT (broadcast_id) DO NOTHING")
INSERT_RECIPIENTS = (
    "INSERT INTO broadcast_recipients (broadcast_id, observer_id) SELECT * FROM "
    "unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING")
INSERT_READS = (
    "INSERT INTO broadcast_reads AS r (broadcast_id, observer_id, read_at) SELECT * FROM "
    "unnest($1::uuid[], $2::text[], $3::timestamptz[]) ON CONFLICT (broadcast_id, observer_id) "
    "DO UPDATE SET read_at = LEAST(r.read_at, EXCLUDED.read_at)")

READ_MODEL = ReadModel("broadcasts", (broadcasts, broadcast_recipients, broadcast_reads), fold,
                       write)

REACHED = """
SELECT DISTINCT o.observer_id
FROM "{schema}".observers o
LEFT JOIN "{schema}".presence p ON p.observer_id = o.observer_id AND p.present
CROSS JOIN LATERAL unnest(array_append(array_append(COALESCE(o.assigned_station_ids, '{{}}'),
                                                    o.station_id), p.station_id)) AS s(station_id)
LEFT JOIN "{schema}".station_registry r ON r.station_id = s.station_id
WHERE o.accredited AND ($1 OR s.station_id = ANY($2::text[]) OR r.region = ANY($3::text[]))
ORDER BY o.observer_id
"""


async def reached(pool: asyncpg.Pool, schema: str, regions: list[str], station_ids: list[str]
                  ) -> list[str]:
    """The observers a broadcast to ``regions`` and ``station_ids`` (neither: the whole
    country) reaches now: accredited, not revoked, with a station of hers (accreditation,
    latest assignment, presence) addressed or in an addressed region."""
    everyone = not regions and not station_ids
    try:
        rows = await pool.fetch(REACHED.format(schema=schema), everyone, station_ids, regions)
    except asyncpg.UndefinedTableError:  # the projector has not made its tables yet
        return []
    return [r["observer_id"] for r in rows]


MESSAGES = """
SELECT b.broadcast_id, b.sent_at, b.text, (d.observer_id IS NOT NULL) AS read
FROM "{schema}".broadcast_recipients k
JOIN "{schema}".broadcasts b ON b.broadcast_id = k.broadcast_id
LEFT JOIN "{schema}".broadcast_reads d ON d.broadcast_id = k.broadcast_id
                                     AND d.observer_id = k.observer_id
WHERE k.observer_id = $1 ORDER BY b.sent_at DESC, b.broadcast_id LIMIT $2
"""
MAX_MESSAGES = 100


async def messages_for(pool: asyncpg.Pool, schema: str, observer_id: str, names: Names
                       ) -> list[dict[str, Any]]:
    """The latest messages that reached ``observer_id``, newest first: id, sent_at, text in
    every language given (opened by ``names``), and whether she has read it."""
    try:
        rows = await pool.fetch(MESSAGES.format(schema=schema), observer_id, MAX_MESSAGES)
    except asyncpg.UndefinedTableError:  # a projector of an earlier release: no messages yet
        return []
    return [{"id": str(r["broadcast_id"]), "sent_at": r["sent_at"].isoformat(),
             "text": await opened(names, r), "read": r["read"]} for r in rows]


async def opened(names: Names, row: asyncpg.Record) -> dict[str, str | None]:
    """A broadcast's text as ``names`` lets its reader see it, language by language."""
    text = orjson.loads(row["text"]) if isinstance(row["text"], str) else row["text"]
    languages = sorted(text)
    shown = await names.texts([(text[lang], row["broadcast_id"], "text") for lang in languages])
    return dict(zip(languages, shown, strict=True))


SENT = """
SELECT b.broadcast_id, b.sent_at, b.sender, b.text, b.regions, b.station_ids,
       (SELECT count(*) FROM broadcast_recipients k WHERE k.broadcast_id = b.broadcast_id)
         AS addressed,
       (SELECT count(*) FROM broadcast_recipients k JOIN broadcast_reads d
          ON d.broadcast_id = k.broadcast_id AND d.observer_id = k.observer_id
        WHERE k.broadcast_id = b.broadcast_id) AS read
FROM broadcasts b
WHERE $1::text[] IS NULL OR (b.regions_reached <> '{}' AND b.regions_reached <@ $1::text[])
ORDER BY b.sent_at DESC, b.broadcast_id LIMIT $2
"""


async def sent(conn: asyncpg.Connection, reach: Reach, names: Names, limit: int
               ) -> list[dict[str, Any]]:
    """The latest broadcasts ``reach`` sees (a regional reader: those addressed within her
    regions only), newest first, with how many addressed observers have read each."""
    rows = await conn.fetch(SENT, reach.filter(), limit)
    return [{"id": str(r["broadcast_id"]), "sent_at": r["sent_at"].isoformat(),
             "sender": r["sender"], "text": await opened(names, r), "regions": r["regions"],
             "station_ids": r["station_ids"], "addressed": r["addressed"], "read": r["read"]}
            for r in rows]


async def station_regions(pool: asyncpg.Pool, schema: str, ids: list[str]
                          ) -> dict[str, str | None]:
    """The registered stations among ``ids``, each with its region (None: not given)."""
    if not ids:
        return {}
    try:
        rows = await pool.fetch(f'SELECT station_id, region FROM "{schema}".station_registry '
                                "WHERE station_id = ANY($1::text[])", ids)
    except asyncpg.UndefinedTableError:  # the projector has not made its tables yet
        return {}
    return {r["station_id"]: r["region"] for r in rows}
