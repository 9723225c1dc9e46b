"""``saylau stations import``: the polling-station registry from CSV, as station.registered events.

Columns (header row required): station_id, number, address, region, registered_voters, and
optionally district, city, lat, lon. Each row becomes one ``station.registered`` event posted
through the ingest batch endpoint, so the registry goes through the same validation, log and
projection as every report. An event id is derived from the row and ``--at``: importing the
same file with the same ``--at`` again is answered "duplicate" and changes nothing.
"""
from __future__ import annotations

import argparse
import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx

from saylau.cli.status import DIFFERENT, OK, fail
from saylau.envelope import canonical
from saylau.settings import settings

REQUIRED = ("station_id", "number", "address", "region", "registered_voters")
OPTIONAL_TEXT = ("district", "city")
OPTIONAL_NUMBERS = ("lat", "lon")
BATCH = 500
IMPORT_NAMESPACE = uuid5(NAMESPACE_URL, "https://saylau.watch/station-import")


@dataclass(frozen=True)
class Row:
    """One CSV line: its event, or why it could not be made."""

    line: int
    event: dict[str, Any] | None
    error: str | None = None


def register(sub: Any) -> None:
    p = sub.add_parser("stations", help="polling-station registry")
    actions = p.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="post a CSV of stations as station.registered")
    imp.add_argument("file", type=Path)
    imp.add_argument("--ingest", default=None,
                     help="the ingest service (default: http://INGEST_HOST:INGEST_PORT)")
    imp.add_argument("--key", required=True, help="an API key with the ingest scope")
    imp.add_argument("--at", type=datetime.fromisoformat, default=None,
                     help="registration time with offset (default: now); fix it to re-import "
                          "idempotently")
    imp.add_argument("--source", default="station-registry-import")
    imp.set_defaults(run=run_import)


def station_rows(lines: Iterable[Mapping[str, str]], at: datetime, source: str) -> list[Row]:
    """Each CSV record as a ``station.registered`` envelope (pure)."""
    return [_row(n, line, at, source) for n, line in enumerate(lines, start=2)]


def _row(n: int, line: Mapping[str, str], at: datetime, source: str) -> Row:
    try:
        payload = _payload(line)
    except ValueError as exc:
        return Row(n, None, str(exc))
    station_id = line["station_id"].strip()
    place = {"region": payload["region"], **({"city": payload["city"]} if "city" in payload
                                             else {})}
    key = f"{station_id}|{canonical(payload).decode()}|{at.isoformat()}"
    return Row(n, {"event_id": str(uuid5(IMPORT_NAMESPACE, key)), "type": "station.registered",
                   "schema_version": 1, "occurred_at": at.isoformat(), "source": source,
                   "station_id": station_id, "place": place, "payload": payload})


def _payload(line: Mapping[str, str]) -> dict[str, Any]:
    missing = [c for c in REQUIRED if not (line.get(c) or "").strip()]
    if missing:
        raise ValueError(f"empty {', '.join(missing)}")
    payload: dict[str, Any] = {"address": line["address"].strip(),
                               "region": line["region"].strip(),
                               "number": _number(line, "number", int),
                               "registered_voters": _number(line, "registered_voters", int)}
    payload |= {c: line[c].strip() for c in OPTIONAL_TEXT if (line.get(c) or "").strip()}
    payload |= {c: _number(line, c, float) for c in OPTIONAL_NUMBERS
                if (line.get(c) or "").strip()}
    return payload


def _number(line: Mapping[str, str], column: str, kind: type[int | float]) -> Any:
    try:
        return kind(line[column].strip())
    except ValueError:
        raise ValueError(f"{column}: {line[column]!r} is not a number") from None


async def run_import(args: argparse.Namespace) -> int:
    at = args.at or datetime.now(UTC)
    if at.tzinfo is None:
        return fail("--at needs a UTC offset, e.g. 2024-03-01T09:00:00+05:00")
    with args.file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if absent:
            return fail(f"{args.file}: missing columns: {', '.join(absent)}")
        rows = station_rows(reader, at, args.source)
    failed = [f"line {r.line}: {r.error}" for r in rows if r.event is None]
    failed += await _post(args.ingest or settings().ingest_url, args.key,
                          [r for r in rows if r.event is not None])
    for line in failed:
        fail(line, DIFFERENT)
    print(f"{len(rows) - len(failed)} of {len(rows)} stations recorded")
    return DIFFERENT if failed else OK


async def _post(ingest: str, key: str, rows: list[Row]) -> list[str]:
    """Post in batches; the lines the ingest service did not accept, with its reasons."""
    failed = []
    async with httpx.AsyncClient(base_url=ingest, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            reply = await client.post("/v1/events:batch", json=[r.event for r in chunk])
            if reply.status_code != 200:
                return failed + [f"ingest answered {reply.status_code}: {reply.text[:300]}"]
            for row, result in zip(chunk, reply.json()["results"]):
                if result["code"] not in (200, 202):
                    failed.append(f"line {row.line}: {result['status']} {result.get('errors')}")
    return failed
