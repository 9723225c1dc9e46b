"""Detentions as they stood at a past moment, from per-minute deltas the projection keeps.

A detention report adds its count at the minute it occurred; a report later retracted or
rejected takes it back at the minute that took effect (``withdrawn_at``: the withdrawal's
time, or the report's if that is later). The tally at ``as_of`` is the deltas of the whole
hours before it, then of the whole minutes of its hour before it, then the exact reports of
the minute ``as_of`` falls in: at most (hours so far + 60) rows per city plus one minute's
reports, whatever the size of the log.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, Index, Integer, PrimaryKeyConstraint, Text
from sqlalchemy.dialects.postgresql import UUID

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import DETENTION_REPORTED, DETENTION_TYPES
from saylau.readmodels.base import Batch, Change, Counted, ReadModel, columns
from saylau.readmodels.detentions import City, city_of
from saylau.readmodels.timeline import minute_of
from saylau.store.ddl import READ, table

detention_minutes = table(
    "detention_minutes", READ,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("detained", Integer, nullable=False),
    Column("released", Integer, nullable=False),
    PrimaryKeyConstraint("minute", "region", "city"),
)
detention_hours = table(
    "detention_hours", READ,
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("hour", DateTime(timezone=True), nullable=False),
    Column("detained", Integer, nullable=False),
    Column("released", Integer, nullable=False),
    PrimaryKeyConstraint("hour", "region", "city"),
)
"""The same deltas per whole UTC hour (each row the sum of its hour's minutes)."""
detention_reports = table(
    "detention_reports", READ,
    Column("event_id", UUID, primary_key=True),
    Column("region", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),
    Index("detention_reports_occurred", "occurred_at"),
    Index("detention_reports_withdrawn", "withdrawn_at"),
)


@dataclass
class AsOfRows:
    minutes: dict[tuple[datetime, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0]))
    """(minute, region, city) → [detained, released] added in that minute."""
    reports: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    """event_id → the report's row, with when it stopped standing."""


def fold(batch: Batch, config: RuleConfig) -> AsOfRows:
    rows = AsOfRows()
    for c in batch.counted:
        if c.event.type in DETENTION_TYPES:
            _add(rows, c)
    return rows


def _add(rows: AsOfRows, c: Counted) -> None:
    e = c.event
    region, city = city_of(e.region, e.city)
    count = int(e.payload["count"])
    until = max(e.occurred_at, c.withdrawn_at or e.occurred_at) if c.sign < 0 else None
    at = until if until is not None else e.occurred_at
    rows.minutes[(minute_of(at), region, city)][0 if e.type == DETENTION_REPORTED else 1] += (
        count * c.sign)
    rows.reports[e.event_id] = (e.event_id, region, city, e.type, count, e.occurred_at,
                                until or rows.reports.get(e.event_id, (None,) * 7)[6])


def hours_of(minutes: dict[tuple[datetime, str, str], list[int]]
             ) -> dict[tuple[datetime, str, str], list[int]]:
    """The minutes' deltas summed per (hour, region, city)."""
    hours: dict[tuple[datetime, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (minute, region, city), (detained, released) in minutes.items():
        row = hours[(minute.replace(minute=0), region, city)]
        row[0] += detained
        row[1] += released
    return hours


async def write(conn: asyncpg.Connection, rows: AsOfRows, config: RuleConfig) -> list[Change]:
    """The batch's minutes, hours and detention reports, in one statement."""
    if not (rows.minutes or rows.reports):
        return []
    hours = hours_of(rows.minutes)
    await conn.execute(
        UPSERT_AS_OF, *columns([(*k, *rows.minutes[k]) for k in sorted(rows.minutes)], 5),
        *columns([(*k, *hours[k]) for k in sorted(hours)], 5),
        *columns([rows.reports[k] for k in sorted(rows.reports)], 7))
    return []


def _moves(name: str, key: str, first: int) -> str:
    """Add one batch's detentions and releases to ``name``'s rows keyed by ``key``."""
    p = [f"${first + i}" for i in range(5)]
    return (f"INSERT INTO {name} AS m ({key}, region, city, detained, released) "
            f"SELECT * FROM unnest({p[0]}::timestamptz[], {p[1]}::text[], {p[2]}::text[], "
            f"{p[3]}::int[], {p[4]}::int[]) ON CONFLICT ({key}, region, city) DO UPDATE SET "
            "detained = m.detained + EXCLUDED.detained, released = m.released + EXCLUDED.released")


UPSERT_AS_OF = f"""
WITH minutes AS ({_moves("detention_minutes", "minute", 1)}),
hours AS ({_moves("detention_hours", "hour", 6)})
INSERT INTO detention_reports AS r SELECT * FROM unnest($11::uuid[], $12::text[], $13::text[],
  $14::text[], $15::int[], $16::timestamptz[], $17::timestamptz[])
ON CONFLICT (event_id) DO UPDATE SET withdrawn_at = COALESCE(EXCLUDED.withdrawn_at, r.withdrawn_at)
"""
"""A batch's detentions per minute ($1-$5) and per hour ($6-$10), and its detention reports
($11-$17), in one round trip."""


READ_MODEL = ReadModel("as_of", (detention_minutes, detention_hours, detention_reports),
                       fold, write)

WHOLE_MINUTES = """
SELECT region, city, sum(detained)::int AS detained, sum(released)::int AS released
FROM (SELECT region, city, detained, released FROM detention_hours WHERE hour < $2
      UNION ALL
      SELECT region, city, detained, released FROM detention_minutes
      WHERE minute >= $2 AND minute < $1) d
GROUP BY region, city
"""
"""The whole hours before ``as_of``'s hour ($2), then the whole minutes of that hour before
``as_of``'s minute ($1), each a range of its primary key."""
PART_MINUTE = """
SELECT region, city, type,
       count * ((occurred_at >= $1)::int - COALESCE(withdrawn_at BETWEEN $1 AND $2, false)::int)
       AS count
FROM detention_reports
WHERE occurred_at BETWEEN $1 AND $2 OR withdrawn_at BETWEEN $1 AND $2
"""
WHOLE_MINUTES_OF = WHOLE_MINUTES.replace("GROUP BY", "WHERE region = ANY($3::text[])\nGROUP BY")
PART_MINUTE_OF = PART_MINUTE.replace("WHERE occurred_at", "WHERE region = ANY($3::text[]) AND (occurred_at") + ")"
"""A regional principal's: the same, of her regions only."""


async def detentions_as_of(conn: asyncpg.Connection, as_of: datetime,
                           within: list[str] | None = None) -> dict[City, list[int]]:
    """Per city [detained, released] by the reports standing at ``as_of`` (``within``: the
    cities of these regions only)."""
    start = minute_of(as_of)
    regional = () if within is None else (within,)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        whole = await conn.fetch(WHOLE_MINUTES_OF if regional else WHOLE_MINUTES, start,
                                 start.replace(minute=0), *regional)
        part = await conn.fetch(PART_MINUTE_OF if regional else PART_MINUTE, start, as_of,
                                *regional)
    totals: dict[City, list[int]] = defaultdict(lambda: [0, 0])
    for r in whole:
        totals[(r["region"], r["city"])] = [r["detained"], r["released"]]
    for r in part:
        totals[(r["region"], r["city"])][0 if r["type"] == DETENTION_REPORTED else 1] += r["count"]
    return totals

