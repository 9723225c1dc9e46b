"""The station registry: polling stations as registered and moved (observers, accredited
and assigned: ``saylau.readmodels.observers``).

Each part of a row is taken from the latest event that sets it, by its stamp
(``occurred_at|event_id``), inside the upsert: last-writer-wins, so order never matters.
Registry facts are corrected by later events, never withdrawn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import asyncpg
from sqlalchemy import Column, Float, Integer, Text

from saylau.domain.breach import RuleConfig
from saylau.domain.vocabulary import STATION_KEYED, STATION_REGISTERED
from saylau.envelope import Envelope
from saylau.readmodels.base import Batch, Change, ReadModel, columns
from saylau.store.ddl import READ, table

station_registry = table(
    "station_registry", READ,
    Column("station_id", Text, primary_key=True),
    Column("number", Integer),
    Column("region", Text, index=True),
    Column("district", Text),
    Column("city", Text),
    Column("registered_voters", Integer),
    Column("details_stamp", Text),
    Column("address", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("location_stamp", Text),
)


def stamp(event: Envelope) -> str:
    """Sortable text of (occurred_at in UTC, event_id): later stamp, later fact."""
    moment = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{moment}|{event.event_id}"


def latest(rows: dict[Any, Any], key: Any, row: tuple[Any, ...]) -> None:
    """Keep the row with the greater stamp (its first element)."""
    if key not in rows or row[0] > rows[key][0]:
        rows[key] = row


@dataclass
class RegistryRows:
    details: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """station_id → (stamp, number, region, district, city, registered_voters)."""
    locations: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """station_id → (stamp, address, lat, lon)."""


def fold(batch: Batch, config: RuleConfig) -> RegistryRows:
    rows = RegistryRows()
    for c in batch.counted:
        if c.sign > 0 and c.event.type in STATION_KEYED:  # most events register nothing
            _register(rows, c.event)
    return rows


def _register(rows: RegistryRows, event: Envelope) -> None:
    p, at = event.payload, stamp(event)
    if event.type == STATION_REGISTERED and event.station_id:
        latest(rows.details, event.station_id, (
            at, p["number"], p["region"], p.get("district"), p.get("city"),
            p["registered_voters"]))
    if event.type in STATION_KEYED and event.station_id:
        latest(rows.locations, event.station_id, (at, p["address"], p.get("lat"), p.get("lon")))


def lww(column: str, stamp_column: str) -> str:
    """SET clause: take the new value only if its stamp is later."""
    return (f"{column} = CASE WHEN EXCLUDED.{stamp_column} > COALESCE(r.{stamp_column}, '') "
            f"THEN EXCLUDED.{column} ELSE r.{column} END")


async def write(conn: asyncpg.Connection, rows: RegistryRows, config: RuleConfig) -> list[Change]:
    await _upsert_stations(conn, rows)
    return []


async def _upsert_stations(conn: asyncpg.Connection, rows: RegistryRows) -> None:
    ids = sorted(rows.details.keys() | rows.locations.keys())
    if not ids:
        return
    cols = columns([(*rows.details.get(i, (None,) * 6), *rows.locations.get(i, (None,) * 4))
                    for i in ids])
    sets = [lww(c, "details_stamp") for c in ("number", "region", "district", "city",
                                               "registered_voters")]
    sets += [lww(c, "location_stamp") for c in ("address", "lat", "lon")]
    await conn.execute(
        "INSERT INTO station_registry AS r (station_id, details_stamp, number, region, district,"
        " city, registered_voters, location_stamp, address, lat, lon) SELECT * FROM unnest("
        "$1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], "
        "$8::text[], $9::text[], $10::float8[], $11::float8[]) ON CONFLICT (station_id) DO "
        f"UPDATE SET {', '.join(sets)}, "
        "details_stamp = GREATEST(r.details_stamp, EXCLUDED.details_stamp), "
        "location_stamp = GREATEST(r.location_stamp, EXCLUDED.location_stamp)", ids, *cols)


REGISTRY_ENTRIES = ("SELECT station_id, details_stamp, region FROM station_registry "
                    "WHERE station_id = ANY($1::text[]) AND details_stamp IS NOT NULL")


async def registry_entries(conn: asyncpg.Connection, station_ids: list[str]
                           ) -> dict[str, tuple[str, str | None]]:
    """The stations' registry entries as stored: station → (details stamp, region); those
    never registered are absent (``saylau.readmodels.placing``). One query per batch."""
    rows = await conn.fetch(REGISTRY_ENTRIES, station_ids)
    return {r["station_id"]: (r["details_stamp"], r["region"]) for r in rows}


READ_MODEL = ReadModel("registry", (station_registry,), fold, write)
