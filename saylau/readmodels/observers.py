"""Observers as accredited, revoked and assigned: who may sign in, for which election, where.

Each part of a row comes from the latest event that sets it, by its stamp (last-writer-wins,
so order never matters): the accreditation (organisation, name, station, the envelope's
``election_id``), the status (accredited or revoked, and why) and the assignment (the
stations the latest ``observer.assigned`` names; the accreditation's station counts too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from sqlalchemy import ARRAY, Boolean, Column, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.observers import ObserverGrant, stations_of
from saylau.domain.vocabulary import OBSERVER_ACCREDITED, OBSERVER_ASSIGNED, OBSERVER_REVOKED
from saylau.envelope import Envelope
from saylau.privacy.records import KeySource, Names
from saylau.privacy.sealing import is_sealed
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.readmodels.registry import latest, lww, stamp
from saylau.store.ddl import READ, table

observers = table(
    "observers", READ,
    Column("observer_id", Text, primary_key=True),
    Column("organisation", Text),
    Column("name", Text),
    Column("station_id", Text, index=True),
    Column("election_id", Text, index=True),
    Column("accreditation_stamp", Text),
    Column("accredited", Boolean, nullable=False),
    Column("revoked_reason", Text),
    Column("status_stamp", Text, nullable=False),
    Column("assigned_station_ids", ARRAY(Text)),
    Column("assignment_stamp", Text),
)
OBSERVER_TYPES = frozenset((OBSERVER_ACCREDITED, OBSERVER_REVOKED, OBSERVER_ASSIGNED))


@dataclass
class ObserverRows:
    accreditations: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """observer_id → (stamp, organisation, name, station_id, election_id)."""
    statuses: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """observer_id → (stamp, accredited, revoked_reason)."""
    assignments: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """observer_id → (stamp, station_ids)."""


def fold(batch: Batch, config: RuleConfig) -> ObserverRows:
    rows = ObserverRows()
    for c in batch.counted:
        if c.sign > 0 and c.event.type in OBSERVER_TYPES:
            _record(rows, c.event)
    return rows


def _record(rows: ObserverRows, event: Envelope) -> None:
    p, at = event.payload, stamp(event)
    if event.type == OBSERVER_ASSIGNED:
        latest(rows.assignments, p["observer_id"], (at, list(p["station_ids"])))
    elif event.type == OBSERVER_ACCREDITED:
        latest(rows.accreditations, p["observer_id"], (
            at, p["organisation"], p["name"], p.get("station_id"), event.election_id))
        latest(rows.statuses, p["observer_id"], (at, True, None))
    else:
        latest(rows.statuses, p["observer_id"], (at, False, p.get("reason")))


async def write(conn: asyncpg.Connection, rows: ObserverRows, config: RuleConfig
                ) -> list[Change]:
    ids = sorted(rows.statuses.keys() | rows.accreditations.keys())
    if ids:
        cols = columns([(*rows.accreditations.get(i, (None,) * 5),
                         *rows.statuses.get(i, ("", False, None))) for i in ids])
        await conn.execute(UPSERT_STATUSES, ids, *cols)
    if rows.assignments:
        ids = sorted(rows.assignments)
        await conn.execute(UPSERT_ASSIGNMENTS, ids, [rows.assignments[i][0] for i in ids],
                           [orjson.dumps(rows.assignments[i][1]).decode() for i in ids])
    return []


UPSERT_STATUSES = (
    "INSERT INTO observers AS r (observer_id, accreditation_stamp, organisation, name, "
    "station_id, election_id, status_stamp, accredited, revoked_reason) SELECT * FROM unnest("
    "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
    "$8::bool[], $9::text[]) ON CONFLICT (observer_id) DO UPDATE SET "
    + ", ".join([*(lww(c, "accreditation_stamp") for c in ("organisation", "name", "station_id",
                                                          "election_id")),
                 *(lww(c, "status_stamp") for c in ("accredited", "revoked_reason"))])
    + ", accreditation_stamp = GREATEST(r.accreditation_stamp, EXCLUDED.accreditation_stamp), "
    "status_stamp = GREATEST(r.status_stamp, EXCLUDED.status_stamp)")
"""Accreditations and statuses; a status never seen yet is the empty stamp, not accredited."""
UPSERT_ASSIGNMENTS = (
    "INSERT INTO observers AS r (observer_id, assignment_stamp, assigned_station_ids, "
    "status_stamp, accredited) SELECT o, s, ARRAY(SELECT jsonb_array_elements_text(j::jsonb)),"
    " '', false FROM unnest($1::text[], $2::text[], $3::text[]) AS k(o, s, j) "
    f"ON CONFLICT (observer_id) DO UPDATE SET {lww('assigned_station_ids', 'assignment_stamp')}"
    ", assignment_stamp = GREATEST(r.assignment_stamp, EXCLUDED.assignment_stamp)")
"""The latest assignment of each observer (an observer not accredited yet gets her row)."""

READ_MODEL = ReadModel("observers", (observers,), fold, write)

GRANT = ('SELECT observer_id, election_id, station_id, assigned_station_ids, accredited, '
         'revoked_reason, status_stamp FROM "{schema}".observers WHERE observer_id = $1 '
         "AND status_stamp <> ''")


async def grant(pool: asyncpg.Pool | asyncpg.Connection, schema: str, observer_id: str,
                keys: KeySource | None = None) -> ObserverGrant | None:
    """What ``observer_id`` may do now (None: never accredited, perhaps only assigned). A
    revoked accreditation gives a grant whose ``revoked`` says why: the revocation's reason,
    sealed in the log as free text, opened with ``keys`` for her to read (without them:
    withheld)."""
    row = await pool.fetchrow(GRANT.format(schema=schema), observer_id)
    if row is None:
        return None
    revoked = None if row["accredited"] else await reason_of(row, keys)
    return ObserverGrant(row["observer_id"], row["election_id"],
                         stations_of(row["station_id"], row["assigned_station_ids"]), revoked)


async def reason_of(row: asyncpg.Record, keys: KeySource | None) -> str:
    """Why her accreditation was revoked, in plain words (its event is the status stamp's)."""
    reason = row["revoked_reason"]
    if reason is None:
        return "no reason given"
    if keys is None:
        return "reason withheld" if is_sealed(reason) else str(reason)
    event_id = row["status_stamp"].rpartition("|")[2]
    [opened] = await Names(keys, readable=True).texts([(reason, event_id, "reason")])
    return opened or "no reason given"


async def accredited_for(conn: asyncpg.Connection, schema: str, election_id: str) -> list[str]:
    """The ids of the observers accredited (not revoked) for ``election_id``."""
    rows = await conn.fetch(f'SELECT observer_id FROM "{schema}".observers WHERE accredited '
                            "AND election_id = $1 ORDER BY observer_id", election_id)
    return [r["observer_id"] for r in rows]


STATIONS = """
SELECT k.station_id, r.number, r.address, COALESCE(r.region, s.region) AS region,
       COALESCE(r.city, s.city) AS city, r.lat, r.lon
FROM unnest($1::text[]) AS k(station_id)
LEFT JOIN "{schema}".station_registry r ON r.station_id = k.station_id
LEFT JOIN "{schema}".stations s ON s.station_id = k.station_id
ORDER BY r.number NULLS LAST, k.station_id
"""


async def stations(pool: asyncpg.Pool, schema: str, ids: frozenset[str]) -> list[dict[str, Any]]:
    """Her stations as the registry has them (number, address, region, city, coordinates;
    None where the registry has nothing)."""
    return [dict(r) for r in await pool.fetch(STATIONS.format(schema=schema), sorted(ids))]
