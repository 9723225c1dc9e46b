"""Distinct incidents: reports of one type at one place in one time bucket are one incident,
counted with its corroborating reports (``saylau.domain.corroboration``).

Incident groups gain and lose report ids as sets, so live and replay agree whatever the
batch boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, Column, DateTime, Integer, PrimaryKeyConstraint, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.corroboration import incident_bucket, incident_location
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.store.ddl import READ, table

incident_groups = table(
    "incident_groups", READ,
    Column("location", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("station_id", Text, index=True),
    Column("reports", Integer, nullable=False),
    Column("report_ids", ARRAY(Text), nullable=False),
    PrimaryKeyConstraint("location", "type", "bucket_start"),
)
GroupKey = tuple[str, str, datetime]


@dataclass
class Group:
    """Reports of one incident added (+1) or withdrawn (-1) by the batch."""

    station_id: str | None
    region: str | None
    """For the change feed only: the region of the first report of the batch."""
    ids: dict[str, int] = field(default_factory=dict)


def fold(batch: Batch, config: RuleConfig) -> dict[GroupKey, Group]:
    groups: dict[GroupKey, Group] = {}
    for c in batch.counted:
        for type_name in c.kinds:
            e = c.event
            key = (incident_location(e), type_name, incident_bucket(e.occurred_at, config))
            group = groups.setdefault(key, Group(e.station_id, e.region))
            event_id = str(e.event_id)
            group.ids[event_id] = group.ids.get(event_id, 0) + c.sign
    return groups


async def write(conn: asyncpg.Connection, groups: dict[GroupKey, Group],
                config: RuleConfig) -> list[Change]:
    return await _add(conn, _rows(groups, +1)) + await _remove(conn, _rows(groups, -1))


def _rows(groups: dict[GroupKey, Group], sign: int) -> list[tuple[Any, ...]]:
    rows = []
    for (location, type_name, bucket), group in sorted(groups.items()):
        ids = sorted(i for i, s in group.ids.items() if s == sign)
        if ids:
            rows.append((location, type_name, bucket, group.station_id, group.region,
                         ",".join(ids), len(ids)))
    return rows


async def _add(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> list[Change]:
    if not rows:
        return []
    cols = columns(rows)
    found = await conn.fetch(
        "INSERT INTO incident_groups AS g (location, type, bucket_start, station_id, "
        "report_ids, reports) SELECT l, t, b, s, ARRAY(SELECT x FROM unnest(string_to_array("
        "ids, ',')) x ORDER BY x), n FROM unnest($1::text[], $2::text[], $3::timestamptz[], "
        "$4::text[], $5::text[], $6::int[]) AS u(l, t, b, s, ids, n) "
        "ON CONFLICT (location, type, bucket_start) DO UPDATE SET "
        "report_ids = ARRAY(SELECT x FROM unnest(g.report_ids || EXCLUDED.report_ids) x "
        "ORDER BY x), reports = g.reports + EXCLUDED.reports "
        "RETURNING location, type, bucket_start, station_id, reports",
        *cols[:4], cols[5], cols[6])
    regions = {(r[0], r[1], r[2]): r[4] for r in rows}
    return [{"kind": "incident", "station_id": r["station_id"],
             "region": regions[(r["location"], r["type"], r["bucket_start"])],
             "data": {"location": r["location"], "type": r["type"],
                      "bucket_start": r["bucket_start"].isoformat(), "reports": r["reports"]}}
            for r in found]


async def _remove(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> list[Change]:
    """Withdrawn reports leave their incident; an incident without reports is gone."""
    if not rows:
        return []
    cols = columns(rows)
    await conn.execute(
        "UPDATE incident_groups g SET report_ids = ARRAY(SELECT x FROM unnest(g.report_ids) x "
        "WHERE x <> ALL(string_to_array(u.ids, ',')) ORDER BY x), reports = g.reports - u.n "
        "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::int[]) "
        "AS u(l, t, b, ids, n) WHERE g.location = u.l AND g.type = u.t AND g.bucket_start = u.b",
        cols[0], cols[1], cols[2], cols[5], cols[6])
    await conn.execute(
        "DELETE FROM incident_groups g USING unnest($1::text[], $2::text[], $3::timestamptz[]) "
        "AS u(l, t, b) WHERE g.location = u.l AND g.type = u.t AND g.bucket_start = u.b "
        "AND g.reports <= 0", cols[0], cols[1], cols[2])
    return []


READ_MODEL = ReadModel("incidents", (incident_groups,), fold, write)


async def station_incidents(conn: asyncpg.Connection, station_id: str) -> list[dict[str, Any]]:
    """Distinct incidents at a station: type, time bucket, corroboration count, report ids."""
    rows = await conn.fetch(
        "SELECT type, bucket_start, reports AS corroboration, report_ids FROM incident_groups "
        "WHERE station_id = $1 ORDER BY bucket_start, type", station_id)
    return [dict(r) for r in rows]
