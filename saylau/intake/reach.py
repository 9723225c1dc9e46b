"""Triage within a principal's regions: a report outside them is answered as unknown.

A key or account bound to regions (``Reach``) may claim, verify, reject, escalate, comment
on, retract or attach evidence to its regions' reports only. Another region's report gets
exactly what a report nobody accepted gets (422 naming ``payload.event_id``), so a
coordinator cannot even learn that it exists. Where a report belongs is read from the read
models: its station's registry entry (the latest), else its place's region, else the
region of what it points at (``events.region``). A report the projector has not stored yet
counts as outside: a regional operator triages what her dashboard shows.
"""
from __future__ import annotations

import uuid

import asyncpg

from saylau.intake.outcome import Outcome, Pending, unknown_target

REGIONS_OF = """
SELECT e.event_id, COALESCE(r.region, e.region) AS region
FROM {s}.events e LEFT JOIN {s}.station_registry r ON r.station_id = e.station_id
WHERE e.event_id = ANY($1::uuid[])
"""


async def refuse_other_regions(pool: asyncpg.Pool, read_schema: str | None,
                               pending: list[Pending], outcomes: list[Outcome | None],
                               targets: dict[int, uuid.UUID]) -> None:
    """Answer every item of a regional sender whose report lies outside her regions as if
    the report were unknown; one query for the group, none when every sender is national."""
    bound = [p for p in pending if not p.reach.national and p.index in targets
             and outcomes[p.index] is None]
    if not bound:
        return
    regions = await regions_of(pool, read_schema, [targets[p.index] for p in bound])
    for p in bound:
        if not p.reach.sees(regions.get(targets[p.index])):
            outcomes[p.index] = unknown_target(p)


async def regions_of(pool: asyncpg.Pool, read_schema: str | None,
                     ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The region each stored event belongs to; events not stored yet are absent."""
    if read_schema is None:
        return {}
    schema = '"{}"'.format(read_schema.replace('"', '""'))
    rows = await pool.fetch(REGIONS_OF.format(s=schema), sorted(set(ids)))
    return {r["event_id"]: r["region"] for r in rows}
