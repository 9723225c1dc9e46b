"""SQL of the field read models, set-based: one statement per table per batch.

Registry rows are last-writer-wins by stamp inside the upsert (order-independent); incident
groups gain and lose report ids as sets; a station's turnout and its alerts are re-evaluated
from the committed counts, which is safe because all of a station's events share a partition
and ``projector_offsets`` row-locks the partition for the batch.
"""
from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from saylau.domain.breach import RuleConfig
from saylau.domain.turnout import TURNOUT_RULES, StationSeries, TurnoutCount, turnout_alerts
from saylau.fieldwork import FieldDeltas
from saylau.sql import Change, upsert_breaches


async def apply_fieldwork(conn: asyncpg.Connection, fw: FieldDeltas,
                          config: RuleConfig) -> list[Change]:
    """Write the batch's field changes; return the change-feed entries."""
    await _upsert_registry(conn, fw)
    await _upsert_observers(conn, fw)
    await _upsert_announced(conn, fw)
    await _insert_actions(conn, fw)
    changed = await _add_to_groups(conn, fw) + await _remove_from_groups(conn, fw)
    return changed + await evaluate_turnout(conn, sorted(fw.turnout_stations), config)


def _lww(column: str, stamp: str) -> str:
    return (f"{column} = CASE WHEN EXCLUDED.{stamp} > COALESCE(r.{stamp}, '') "
            f"THEN EXCLUDED.{column} ELSE r.{column} END")


async def _upsert_registry(conn: asyncpg.Connection, fw: FieldDeltas) -> None:
    ids = sorted(fw.details.keys() | fw.locations.keys())
    if not ids:
        return
    rows = [(*fw.details.get(i, (None,) * 6), *fw.locations.get(i, (None,) * 4)) for i in ids]
    cols = [list(c) for c in zip(*rows)]
    sets = [_lww(c, "details_stamp") for c in ("number", "region", "district", "city",
                                                "registered_voters")]
    sets += [_lww(c, "location_stamp") for c in ("address", "lat", "lon")]
    await conn.execute(
        "INSERT INTO station_registry AS r (station_id, details_stamp, number, region, district,"
        " city, registered_voters, location_stamp, address, lat, lon) SELECT * FROM unnest("
        "$1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], "
        "$8::text[], $9::text[], $10::float8[], $11::float8[]) ON CONFLICT (station_id) DO "
        f"UPDATE SET {', '.join(sets)}, "
        "details_stamp = GREATEST(r.details_stamp, EXCLUDED.details_stamp), "
        "location_stamp = GREATEST(r.location_stamp, EXCLUDED.location_stamp)", ids, *cols)


async def _upsert_observers(conn: asyncpg.Connection, fw: FieldDeltas) -> None:
    ids = sorted(fw.statuses)
    if not ids:
        return
    rows = [(*fw.accreditations.get(i, (None,) * 4), *fw.statuses[i]) for i in ids]
    cols = [list(c) for c in zip(*rows)]
    sets = [_lww(c, "accreditation_stamp") for c in ("organisation", "name", "station_id")]
    await conn.execute(
        "INSERT INTO observers AS r (observer_id, accreditation_stamp, organisation, name, "
        "station_id, status_stamp, accredited) SELECT * FROM unnest($1::text[], $2::text[], "
        "$3::text[], $4::text[], $5::text[], $6::text[], $7::bool[]) ON CONFLICT (observer_id) "
        f"DO UPDATE SET {', '.join(sets)}, {_lww('accredited', 'status_stamp')}, "
        "accreditation_stamp = GREATEST(r.accreditation_stamp, EXCLUDED.accreditation_stamp), "
        "status_stamp = GREATEST(r.status_stamp, EXCLUDED.status_stamp)", ids, *cols)


async def _upsert_announced(conn: asyncpg.Connection, fw: FieldDeltas) -> None:
    if not fw.announced:
        return
    keys = sorted(fw.announced)
    await conn.execute(
        "INSERT INTO announced_turnout AS r (region, hour, stamp, percent) SELECT * FROM "
        "unnest($1::text[], $2::int[], $3::text[], $4::float8[]) ON CONFLICT (region, hour) "
        f"DO UPDATE SET {_lww('percent', 'stamp')}, stamp = GREATEST(r.stamp, EXCLUDED.stamp)",
        [k[0] for k in keys], [k[1] for k in keys], [fw.announced[k][0] for k in keys],
        [fw.announced[k][1] for k in keys])


async def _insert_actions(conn: asyncpg.Connection, fw: FieldDeltas) -> None:
    if fw.actions:
        await conn.copy_records_to_table("triage_actions", records=fw.actions, columns=(
            "action_id", "report_id", "kind", "occurred_at", "partner", "operator", "note"))


def _group_rows(fw: FieldDeltas, sign: int) -> list[tuple[Any, ...]]:
    rows = []
    for (location, type_name, bucket), group in sorted(fw.groups.items()):
        ids = sorted(i for i, s in group.ids.items() if s == sign)
        if ids:
            rows.append((location, type_name, bucket, group.station_id, group.region,
                         ",".join(ids), len(ids)))
    return rows


async def _add_to_groups(conn: asyncpg.Connection, fw: FieldDeltas) -> list[Change]:
    rows = _group_rows(fw, +1)
    if not rows:
        return []
    cols = [list(c) for c in zip(*rows)]
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


async def _remove_from_groups(conn: asyncpg.Connection, fw: FieldDeltas) -> list[Change]:
    """Withdrawn reports leave their incident; an incident without reports is gone."""
    rows = _group_rows(fw, -1)
    if not rows:
        return []
    cols = [list(c) for c in zip(*rows)]
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


STANDING_COUNTS = """
INSERT INTO station_turnout (station_id, hour, voters, event_id, occurred_at)
SELECT DISTINCT ON (station_id, hour) station_id, hour, voters, event_id, occurred_at FROM (
  SELECT station_id, (record->'payload'->>'hour')::int AS hour,
         (record->'payload'->>'voters')::int AS voters, event_id, occurred_at
  FROM events WHERE type = 'turnout.reported' AND station_id = ANY($1::text[])
    AND status NOT IN ('retracted', 'rejected')) t
ORDER BY station_id, hour, occurred_at DESC, event_id DESC
RETURNING station_id, hour, voters, event_id, occurred_at,
  (SELECT e.region FROM events e WHERE e.event_id = station_turnout.event_id) AS region,
  (SELECT e.city FROM events e WHERE e.event_id = station_turnout.event_id) AS city
"""


async def evaluate_turnout(conn: asyncpg.Connection, stations: list[str],
                           config: RuleConfig) -> list[Change]:
    """Rebuild the standing count per hour of ``stations`` and their turnout alerts.

    An alert the counts no longer support is deleted (not marked withdrawn): its row then
    depends only on the final counts, as a replay in any batch sizes would find them.
    """
    if not stations:
        return []
    await conn.execute("DELETE FROM station_turnout WHERE station_id = ANY($1::text[])", stations)
    counts = await conn.fetch(STANDING_COUNTS, stations)
    series = await _series(conn, stations, counts)
    alerts = [a for s in series for a in turnout_alerts(s, config)]
    old = await conn.fetch(
        "SELECT breach_id::text AS id, title, event_ids::text AS ids, region, city, station_id "
        "FROM breaches "
        "WHERE station_id = ANY($1::text[]) AND rule_id = ANY($2::text[])",
        stations, list(TURNOUT_RULES))
    known = {r["id"]: (r["title"], orjson.loads(r["ids"]), r["region"], r["city"]) for r in old}
    fresh = [a for a in alerts
             if known.get(a.breach_id) != (a.title, list(a.event_ids), a.region, a.city)]
    gone = [r for r in old if r["id"] not in {a.breach_id for a in alerts}]
    await conn.execute("DELETE FROM breaches WHERE breach_id = ANY($1::uuid[])",
                       [r["id"] for r in gone])
    return await upsert_breaches(conn, fresh) + [
        {"kind": "breach_withdrawn", "region": r["region"], "station_id": r["station_id"],
         "data": {"breach_id": r["id"]}} for r in gone]


async def _series(conn: asyncpg.Connection, stations: list[str],
                  counts: list[asyncpg.Record]) -> list[StationSeries]:
    """Each station's counts, placed by the registry, else by its latest count's envelope
    (never by whatever else happened to be projected first: replay must agree)."""
    rows = await conn.fetch("SELECT station_id, region, city, registered_voters FROM "
                            "station_registry WHERE station_id = ANY($1::text[])", stations)
    registry = {r["station_id"]: r for r in rows}
    by_station: dict[str, list[asyncpg.Record]] = {}
    for c in counts:
        by_station.setdefault(c["station_id"], []).append(c)
    return [_station_series(s, registry.get(s), by_station.get(s, [])) for s in stations]


def _station_series(station_id: str, registered: asyncpg.Record | None,
                    counts: list[asyncpg.Record]) -> StationSeries:
    latest = max(counts, key=lambda c: (c["occurred_at"], str(c["event_id"])), default=None)
    place = registered or latest
    return StationSeries(
        station_id, place and place["region"], place and place["city"],
        registered and registered["registered_voters"],
        [TurnoutCount(c["hour"], c["voters"], str(c["event_id"]), c["occurred_at"])
         for c in counts])
