"""SQL of the projection, set-based: one statement per table per batch, all parameterised."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from saylau.decode import Decoded, Message
from saylau.domain.rules import Breach, RuleConfig, detention_surge, withdrawn_by
from saylau.fieldwork import TRIAGE_ACTIONS
from saylau.projection import TRIAGE_REPORTS, UNSPECIFIED_CITY, Deltas

Change = dict[str, Any]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def lock_offsets(conn: asyncpg.Connection, topic: str,
                       partitions: list[int]) -> dict[int, int]:
    """Stored next offsets of ``partitions``, row-locked so two workers never overlap."""
    await conn.execute(
        "INSERT INTO projector_offsets (topic, kafka_partition, next_offset) "
        "SELECT $1, p, 0 FROM unnest($2::int[]) AS p ON CONFLICT DO NOTHING", topic, partitions)
    rows = await conn.fetch(
        "SELECT kafka_partition, next_offset FROM projector_offsets "
        "WHERE topic = $1 AND kafka_partition = ANY($2::int[]) FOR UPDATE", topic, partitions)
    return {r["kafka_partition"]: r["next_offset"] for r in rows}


async def save_offsets(conn: asyncpg.Connection, topic: str, batch: Sequence[Message]) -> None:
    nexts: dict[int, int] = {}
    for m in batch:
        nexts[m.partition] = max(nexts.get(m.partition, 0), m.offset + 1)
    await conn.execute(
        "UPDATE projector_offsets o SET next_offset = GREATEST(o.next_offset, n.next) "
        "FROM unnest($2::int[], $3::bigint[]) AS n(p, next) "
        "WHERE o.topic = $1 AND o.kafka_partition = n.p",
        topic, list(nexts), list(nexts.values()))


async def known_event_ids(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])", ids)
    return {r["event_id"] for r in rows}


async def fetch_records(conn: asyncpg.Connection,
                        ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, bytes, str]]:
    rows = await conn.fetch("SELECT event_id, record::text AS record, status FROM events "
                            "WHERE event_id = ANY($1::uuid[])", ids)
    return [(r["event_id"], r["record"].encode(), r["status"]) for r in rows]


async def insert_events(conn: asyncpg.Connection, batch: list[Decoded],
                        statuses: dict[uuid.UUID, str]) -> None:
    """The event store read model: every applied event, as appended."""
    if not batch:
        return
    rows = []
    for d in batch:
        e = d.event
        about_report = e.type in TRIAGE_REPORTS or e.type in TRIAGE_ACTIONS
        status = "report" if about_report else statuses.get(e.event_id, "unverified")
        rows.append((e.event_id, e.type, e.schema_version, e.occurred_at,
                     _received_at(d.record), d.record.get("partner"), e.station_id, e.region,
                     e.city, e.election_id, status, d.message.partition, d.message.offset,
                     d.message.value.decode()))
    await conn.copy_records_to_table("events", records=rows, columns=(
        "event_id", "type", "schema_version", "occurred_at", "received_at", "partner",
        "station_id", "region", "city", "election_id", "status", "kafka_partition",
        "kafka_offset", "record"))


def _received_at(record: dict[str, Any]) -> Any:
    return datetime.fromisoformat(record["received_at"]) if "received_at" in record else None


async def set_statuses(conn: asyncpg.Connection, statuses: dict[uuid.UUID, str]) -> None:
    if statuses:
        await conn.execute(
            "UPDATE events e SET status = s.status FROM unnest($1::uuid[], $2::text[]) "
            "AS s(id, status) WHERE e.event_id = s.id", list(statuses), list(statuses.values()))


async def insert_dead_letters(conn: asyncpg.Connection, topic: str,
                              dead: list[tuple[Message, str]]) -> None:
    if dead:
        await conn.executemany(
            "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, reason, raw, status) "
            "VALUES ($1, $2, $3, $4, $5, 'dead') ON CONFLICT DO NOTHING",
            [(topic, m.partition, m.offset, reason,
              m.value.decode("utf-8", "backslashreplace")) for m, reason in dead])


async def apply_deltas(conn: asyncpg.Connection, deltas: Deltas) -> list[Change]:
    """Upsert the summed deltas; return the new values as change-feed entries."""
    return (await _upsert_stations(conn, deltas) + await _upsert_incidents(conn, deltas)
            + await _upsert_detentions(conn, deltas) + await _upsert_buckets(conn, deltas))


async def _upsert_stations(conn: asyncpg.Connection, deltas: Deltas) -> list[Change]:
    if not deltas.stations:
        return []
    ids = sorted(deltas.stations)  # one lock order for every worker: no deadlocks
    cols = list(zip(*(deltas.stations[i] for i in ids)))
    rows = await conn.fetch(
        "INSERT INTO stations AS s (station_id, region, city, total, last_event_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], "
        "$5::timestamptz[]) ON CONFLICT (station_id) DO UPDATE SET "
        "region = COALESCE(s.region, EXCLUDED.region), city = COALESCE(s.city, EXCLUDED.city), "
        "total = s.total + EXCLUDED.total, "
        "last_event_at = GREATEST(s.last_event_at, EXCLUDED.last_event_at) "
        "RETURNING station_id, region, city, total, last_event_at",
        ids, list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]))
    return [{"kind": "station", "region": r["region"], "station_id": r["station_id"],
             "data": {"station_id": r["station_id"], "region": r["region"], "city": r["city"],
                      "total": r["total"],
                      "last_event_at": r["last_event_at"] and r["last_event_at"].isoformat()}}
            for r in rows]


async def _upsert_incidents(conn: asyncpg.Connection, deltas: Deltas) -> list[Change]:
    items = sorted((k, v) for k, v in deltas.station_incidents.items() if v)
    if items:
        await conn.execute(
            "INSERT INTO station_incidents AS i (station_id, type, reports) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) "
            "ON CONFLICT (station_id, type) DO UPDATE SET reports = i.reports + EXCLUDED.reports",
            [k[0] for k, _ in items], [k[1] for k, _ in items], [v for _, v in items])
        # a count back at zero leaves no row: as if its reports had been withdrawn in the
        # batch that made them, which is what a replay in larger batches sees
        await conn.execute(
            "DELETE FROM station_incidents i USING unnest($1::text[], $2::text[]) AS k(s, t) "
            "WHERE i.station_id = k.s AND i.type = k.t AND i.reports = 0",
            [k[0] for k, v in items if v < 0], [k[1] for k, v in items if v < 0])
    return []


async def _upsert_detentions(conn: asyncpg.Connection, deltas: Deltas) -> list[Change]:
    if not deltas.city_detentions:
        return []
    keys = sorted(deltas.city_detentions)
    rows = await conn.fetch(
        "INSERT INTO city_detentions AS c (region, city, detained_total, released_total) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) "
        "ON CONFLICT (region, city) DO UPDATE SET "
        "detained_total = c.detained_total + EXCLUDED.detained_total, "
        "released_total = c.released_total + EXCLUDED.released_total "
        "RETURNING region, city, detained_total, released_total",
        [k[0] for k in keys], [k[1] for k in keys],
        [deltas.city_detentions[k][0] for k in keys],
        [deltas.city_detentions[k][1] for k in keys])
    return [{"kind": "detentions", "region": r["region"], "station_id": None,
             "data": {**dict(r), "detained_now": detained_now(r["detained_total"],
                                                              r["released_total"])}}
            for r in rows]


def detained_now(detained_total: int, released_total: int) -> int:
    """People still held; releases reported beyond detentions never make it negative."""
    return max(detained_total - released_total, 0)


async def _upsert_buckets(conn: asyncpg.Connection, deltas: Deltas) -> list[Change]:
    if deltas.detention_buckets:
        keys = sorted(deltas.detention_buckets)
        await conn.execute(
            "INSERT INTO detention_buckets AS b (region, city, bucket_start, detained, reported) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], "
            "$5::int[]) ON CONFLICT (region, city, bucket_start) DO UPDATE SET "
            "detained = b.detained + EXCLUDED.detained, reported = b.reported + EXCLUDED.reported",
            [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
            [deltas.detention_buckets[k][0] for k in keys],
            [deltas.detention_buckets[k][1] for k in keys])
    return []


def breach_row(b: Breach) -> dict[str, Any]:
    ref = b.legal_ref
    return {"breach_id": b.breach_id, "rule_id": b.rule_id, "kind": b.kind,
            "severity": b.severity, "title": b.title,
            "legal_ref": None if ref is None else {"code": ref.code, "article": ref.article,
                                                   "part": ref.part, "text": ref.text},
            "event_ids": sorted(b.event_ids), "station_id": b.station_id, "region": b.region,
            "city": b.city, "election_id": b.election_id,
            "occurred_at": b.occurred_at.isoformat(), "status": "open"}


async def upsert_breaches(conn: asyncpg.Connection, found: list[Breach],
                          status: str = "open") -> list[Change]:
    """Insert breaches; an existing breach with the same id takes the new content whole."""
    if not found:
        return []
    by_id = {b.breach_id: b for b in found}  # one row per id: the last evidence wins
    latest = {i: by_id[i] for i in sorted(by_id)}
    cols = list(zip(*[(uuid.UUID(b.breach_id), b.rule_id, b.kind, b.severity, b.title,
                       _json(breach_row(b)["legal_ref"]), _json(sorted(b.event_ids)),
                       b.station_id, b.region, b.city, b.election_id, b.occurred_at)
                      for b in latest.values()]))
    await conn.execute(
        "INSERT INTO breaches (breach_id, rule_id, kind, severity, title, legal_ref, event_ids, "
        "station_id, region, city, election_id, occurred_at, status) "
        "SELECT id, rule, kind, sev, title, ref::jsonb, ids::jsonb, st, reg, city, el, at, "
        "$13 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
        "$12::timestamptz[]) AS b(id, rule, kind, sev, title, ref, ids, st, reg, city, el, at) "
        "ON CONFLICT (breach_id) DO UPDATE SET kind = EXCLUDED.kind, "
        "severity = EXCLUDED.severity, title = EXCLUDED.title, legal_ref = EXCLUDED.legal_ref, "
        "event_ids = EXCLUDED.event_ids, station_id = EXCLUDED.station_id, "
        "region = EXCLUDED.region, city = EXCLUDED.city, election_id = EXCLUDED.election_id, "
        "occurred_at = EXCLUDED.occurred_at, status = EXCLUDED.status",
        *[list(c) for c in cols], status)
    kind = "breach" if status == "open" else "breach_withdrawn"
    return [{"kind": kind, "region": b.region, "station_id": b.station_id,
             "data": {**breach_row(b), "status": status}} for b in latest.values()]


async def withdraw_breaches(conn: asyncpg.Connection, event_ids: list[uuid.UUID]) -> list[Change]:
    """Breaches the withdrawn reports alone supported (``rules.withdrawn_by``) are withdrawn."""
    if not event_ids:
        return []
    gone = [str(e) for e in event_ids]
    candidates = await conn.fetch("SELECT breach_id, event_ids::text AS ids FROM breaches "
                                  "WHERE status = 'open' AND event_ids ?| $1::text[]", gone)
    ids = [r["breach_id"] for r in candidates
           if any(withdrawn_by(e, orjson.loads(r["ids"])) for e in gone)]
    rows = await conn.fetch(
        "UPDATE breaches SET status = 'withdrawn' WHERE breach_id = ANY($1::uuid[]) "
        "RETURNING breach_id, rule_id, region, station_id", ids)
    return [{"kind": "breach_withdrawn", "region": r["region"], "station_id": r["station_id"],
             "data": {"breach_id": str(r["breach_id"]), "rule_id": r["rule_id"]}} for r in rows]


async def evaluate_surges(conn: asyncpg.Connection, deltas: Deltas,
                          config: RuleConfig) -> list[Change]:
    """Flag a detention surge per touched city and time bucket, from the bucket's totals only.

    Open when the standing reports exceed the threshold; withdrawn when only the reports
    ever made did (some were retracted or rejected); otherwise no row. The outcome depends
    on the log, never on arrival order or batch boundaries, so replay agrees with live.
    Set-based: one query for the totals, one for the evidence, two upserts.
    """
    keys = list(deltas.detention_buckets)
    if not keys:
        return []
    totals = await _bucket_totals(conn, keys)
    standing = [k for k in keys if _surge(k, totals[k][0], ["probe"], config)]
    withdrawn = [k for k in keys if k not in standing
                 and _surge(k, totals[k][1], ["probe"], config)]
    evidence = await _surge_evidence(conn, standing + withdrawn, config)
    opened = [_surge(k, totals[k][0], evidence[k][0], config) for k in standing]
    gone = [_surge(k, totals[k][1], evidence[k][1], config) for k in withdrawn]
    return (await upsert_breaches(conn, [b for b in opened if b is not None])
            + await upsert_breaches(conn, [b for b in gone if b is not None], "withdrawn"))


Bucket = tuple[str, str, datetime]


def _surge(key: Bucket, detained: int, ids: list[str], config: RuleConfig) -> Breach | None:
    return detention_surge(key[0], key[1], key[2], detained, ids, config)


async def _bucket_totals(conn: asyncpg.Connection,
                         keys: list[Bucket]) -> dict[Bucket, tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT t.i, b.detained, b.reported FROM unnest($1::text[], $2::text[], "
        "$3::timestamptz[]) WITH ORDINALITY AS t(region, city, bucket, i) "
        "JOIN detention_buckets b "
        "ON b.region = t.region AND b.city = t.city AND b.bucket_start = t.bucket",
        *[list(c) for c in zip(*keys)])
    found = {keys[r["i"] - 1]: (r["detained"], r["reported"]) for r in rows}
    return {k: found.get(k, (0, 0)) for k in keys}


async def _surge_evidence(conn: asyncpg.Connection, keys: list[Bucket], config: RuleConfig
                          ) -> dict[Bucket, tuple[list[str], list[str]]]:
    """Per bucket: ids of the standing detention reports, and of all reports ever made."""
    evidence: dict[Bucket, tuple[list[str], list[str]]] = {k: ([], []) for k in keys}
    if not keys:
        return evidence
    window = timedelta(minutes=config.surge_window_minutes)
    rows = await conn.fetch(
        "SELECT t.i, e.event_id::text AS id, e.status NOT IN ('retracted', 'rejected') AS ok "
        "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) "
        "WITH ORDINALITY AS t(region, city, lo, hi, i) "
        "JOIN events e ON e.type = 'detention.reported' "
        "AND COALESCE(e.region, '(unknown)') = t.region AND COALESCE(e.city, $5) = t.city "
        "AND e.occurred_at >= t.lo AND e.occurred_at < t.hi",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        [k[2] + window for k in keys], UNSPECIFIED_CITY)
    for r in rows:
        standing, ever = evidence[keys[r["i"] - 1]]
        ever.append(r["id"])
        if r["ok"]:
            standing.append(r["id"])
    return evidence
