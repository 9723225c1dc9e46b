"""Presence: which observer is at which station now.

An observer is at one place at a time: her latest ``observer.arrived`` or
``observer.departed`` (by stamp, last-writer-wins, so order never matters) says where. An
arrival without a later departure (or a later arrival elsewhere) means present there.
"""
from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import Boolean, Column, DateTime, Index, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import OBSERVER_ARRIVED, PRESENCE_TYPES
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.readmodels.registry import latest, lww, stamp
from saylau.store.ddl import READ, table

presence = table(
    "presence", READ,
    Column("observer_id", Text, primary_key=True),
    Column("station_id", Text, nullable=False),
    Column("present", Boolean, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("stamp", Text, nullable=False),
    Index("presence_station", "station_id"),
)

PresenceRows = dict[str, tuple[Any, ...]]
"""observer_id → (stamp, station_id, present, since)."""


def fold(batch: Batch, config: RuleConfig) -> PresenceRows:
    rows: PresenceRows = {}
    for c in batch.counted:
        e = c.event
        if c.sign > 0 and e.type in PRESENCE_TYPES and e.station_id:
            latest(rows, e.payload["observer_id"], (
                stamp(e), e.station_id, e.type == OBSERVER_ARRIVED, e.occurred_at))
    return rows


async def write(conn: asyncpg.Connection, rows: PresenceRows, config: RuleConfig
                ) -> list[Change]:
    if rows:
        ids = sorted(rows)
        await conn.execute(UPSERT, ids, *columns([rows[i] for i in ids]))
    return []


UPSERT = (
    "INSERT INTO presence AS r (observer_id, stamp, station_id, present, since) SELECT * FROM "
    "unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[]) "
    "ON CONFLICT (observer_id) DO UPDATE SET "
    + ", ".join(lww(c, "stamp") for c in ("station_id", "present", "since"))
    + ", stamp = GREATEST(r.stamp, EXCLUDED.stamp)")

READ_MODEL = ReadModel("presence", (presence,), fold, write)
