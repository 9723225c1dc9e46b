"""Quick count: the latest sample per election, the sampled stations' protocols, the official
figures, and the ``quickcount.discrepancy`` alerts; the estimate itself is computed at read
time from these small tables (cost ∝ sample size) with the pure ``quick_count``.

Every row is rebuilt from the stored, non-withdrawn events of what a batch touched (latest by
``occurred_at``, then ``event_id``; of an election's samples, the latest no other sample
``replaces``), and a touched election's alerts are re-evaluated from the
committed tables, so the rows depend only on the log, never on batch sizes or partition order.
Two transaction-level advisory locks keep concurrent projector workers (one per partition
set) from missing each other's uncommitted rows: a batch with samples or official figures
takes the *gate* exclusively, so it waits for every batch of reports in flight and then sees
them; a batch of reports takes the gate shared (batches of reports do not wait for each
other) and, only if its stations are in a sample, the *evaluate* lock, so evaluations of an
election run one after the other, each seeing the reports committed before it.
A sampled station's turnout is its standing counts in ``station_turnout`` (the turnout read
model, written earlier in the same transaction) and its registered voters the registry's.
Every input is keyed by election: a count's, protocol's or official figure's election is the
stored event's (its envelope's ``election_id``, else the election whose calendar window holds
it), a sample's the one its payload names; a second round at the same stations never mixes
with the first.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Column, DateTime, Float, Integer, PrimaryKeyConstraint, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from saylau.domain.breach import BREACH_NAMESPACE, Breach, RuleConfig
from saylau.domain.calendar import Calendars
from saylau.domain.quickcount import (
    RULE_ID,
    Discrepancy,
    Estimate,
    OfficialFigure,
    QuickCount,
    RegionCount,
    Sample,
    StationProtocol,
    StationTurnout,
    current_draw,
    discrepancies,
    final_count,
    national_readiness,
    quick_count,
    station_turnout,
)
from saylau.domain.vocabulary import (
    OFFICIAL_RESULTS,
    PROTOCOL_REPORTED,
    QUICKCOUNT_STATION_INPUTS,
    SAMPLE_DRAWN,
    WITHDRAWN_STATUSES,
)
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.breaches import delete_breaches, upsert_breaches
from saylau.store.ddl import READ, table

NATIONAL = ""
"""The ``region`` key of a national official figure."""
GATE, EVALUATE = ":quickcount.gate", ":quickcount.evaluate"

quickcount_samples = table(
    "quickcount_samples", READ,
    Column("election_id", Text, primary_key=True),
    Column("sample_id", Text, nullable=False),
    Column("event_id", UUID, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("stations", JSONB, nullable=False),
    Column("sample", JSONB, nullable=False),
    Column("final_hour", Integer, nullable=False),
)
"""``final_hour``: the hour from which a turnout count is final, by the election's calendar."""

quickcount_protocols = table(
    "quickcount_protocols", READ,
    Column("election_id", Text, nullable=False),
    Column("station_id", Text, nullable=False, index=True),
    Column("event_id", UUID, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("ballots_cast", Integer, nullable=False),
    Column("votes", JSONB, nullable=False),
    PrimaryKeyConstraint("election_id", "station_id"),
)

quickcount_official = table(
    "quickcount_official", READ,
    Column("election_id", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("event_id", UUID, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("turnout_percent", Float, nullable=False),
    Column("shares", JSONB, nullable=False),
    Column("source", Text, nullable=False),
    PrimaryKeyConstraint("election_id", "level", "region"),
)


@dataclass
class Touched:
    """What a batch touched: elections (samples, official figures) and stations, and the
    calendars that say when an election's stations close."""

    elections: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    calendars: Calendars = field(default_factory=Calendars)


def fold(batch: Batch, config: RuleConfig) -> Touched:
    touched = Touched(calendars=batch.calendars)
    for c in batch.counted:
        e = c.event
        if e.type == SAMPLE_DRAWN:
            touched.elections.add(str(e.payload["election_id"]))
        elif e.type == OFFICIAL_RESULTS and (
                election := batch.calendars.election_of(e.election_id, e.occurred_at)):
            touched.elections.add(election)
        elif e.type in QUICKCOUNT_STATION_INPUTS and e.station_id:
            touched.stations.add(e.station_id)
    return touched


async def write(conn: asyncpg.Connection, touched: Touched, config: RuleConfig) -> list[Change]:
    if not (touched.elections or touched.stations):
        return []
    stations, elections = sorted(touched.stations), sorted(touched.elections)
    await _lock(conn, GATE, shared=not elections)
    await _rebuild_protocols(conn, stations)
    await _rebuild_samples(conn, elections, touched.calendars)
    await _rebuild_official(conn, elections)
    affected = set(elections)
    if stations:
        affected |= {r["election_id"] for r in await conn.fetch(
            "SELECT election_id FROM quickcount_samples WHERE stations ?| $1::text[]", stations)}
    if not affected:
        return []
    await _lock(conn, EVALUATE)
    changes: list[Change] = []
    for election_id in sorted(affected):
        changes += await evaluate(conn, election_id)
    return changes


async def _lock(conn: asyncpg.Connection, name: str, shared: bool = False) -> None:
    """A transaction-level advisory lock of this schema's quick count (see the module doc)."""
    kind = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await conn.execute(f"SELECT {kind}(hashtext(current_schema() || $1))", name)


READ_MODEL = ReadModel("quickcount", (quickcount_samples, quickcount_protocols,
                                      quickcount_official), fold, write,
                       after=("events", "registry", "turnout"))

LATEST = """
SELECT DISTINCT ON ({key}) event_id, occurred_at, record->'payload' AS payload, election_id,
       station_id
FROM events WHERE type = $1 AND status <> ALL($2::text[]) AND {where}
ORDER BY {key}, occurred_at DESC, event_id DESC
"""


SAMPLES = """
SELECT record->'payload'->>'election_id' AS election, event_id, occurred_at,
       record->'payload' AS payload
FROM events WHERE type = $1 AND status <> ALL($2::text[])
  AND record->'payload'->>'election_id' = ANY($3::text[])
ORDER BY election, occurred_at, event_id
"""


async def _rebuild_protocols(conn: asyncpg.Connection, stations: list[str]) -> None:
    """The latest protocol per election and station (a protocol of no election counts for no
    quick count)."""
    if not stations:
        return
    await conn.execute("DELETE FROM quickcount_protocols WHERE station_id = ANY($1::text[])",
                       stations)
    rows = await conn.fetch(
        LATEST.format(key="election_id, station_id",
                      where="station_id = ANY($3::text[]) AND election_id IS NOT NULL"),
        PROTOCOL_REPORTED, list(WITHDRAWN_STATUSES), stations)
    await conn.executemany(
        "INSERT INTO quickcount_protocols (election_id, station_id, event_id, occurred_at, "
        "ballots_cast, votes) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        [(r["election_id"], r["station_id"], r["event_id"], r["occurred_at"],
          p["ballots_cast"], _json(p["votes"]))
         for r in rows for p in [orjson.loads(r["payload"])]])


async def _rebuild_samples(conn: asyncpg.Connection, elections: list[str],
                           calendars: Calendars) -> None:
    """Each election's current sample (``current_draw``: the latest no other replaces)."""
    if not elections:
        return
    await conn.execute("DELETE FROM quickcount_samples WHERE election_id = ANY($1::text[])",
                       elections)
    drawn: dict[str, list[tuple[asyncpg.Record, dict[str, Any]]]] = {}
    for r in await conn.fetch(SAMPLES, SAMPLE_DRAWN, list(WITHDRAWN_STATUSES), elections):
        drawn.setdefault(r["election"], []).append((r, orjson.loads(r["payload"])))
    chosen = [rows[current_draw([(p["sample_id"], p.get("replaces")) for _, p in rows])]
              for rows in drawn.values()]
    samples = [(r, Sample.from_payload(p)) for r, p in chosen]
    await conn.executemany(
        "INSERT INTO quickcount_samples (election_id, sample_id, event_id, occurred_at, "
        "stations, sample, final_hour) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)",
        [(s.election_id, s.sample_id, r["event_id"], r["occurred_at"],
          _json(list(s.station_ids)), r["payload"], calendars.final_count_hour(s.election_id))
         for r, s in samples])


async def _rebuild_official(conn: asyncpg.Connection, elections: list[str]) -> None:
    if not elections:
        return
    await conn.execute("DELETE FROM quickcount_official WHERE election_id = ANY($1::text[])",
                       elections)
    rows = await conn.fetch(
        "SELECT DISTINCT ON (election_id, level, region) * FROM (SELECT election_id, "
        "record->'payload'->>'level' AS level, "
        "COALESCE(record->'payload'->>'region', '') AS region, event_id, occurred_at, "
        "record->'payload' AS payload FROM events WHERE type = $1 "
        "AND status <> ALL($2::text[]) AND election_id = ANY($3::text[])) t "
        "ORDER BY election_id, level, region, occurred_at DESC, event_id DESC",
        OFFICIAL_RESULTS, list(WITHDRAWN_STATUSES), elections)
    await conn.executemany(
        "INSERT INTO quickcount_official (election_id, level, region, event_id, occurred_at, "
        "turnout_percent, shares, source) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)",
        [(r["election_id"], r["level"], r["region"], r["event_id"], r["occurred_at"],
          float(p["turnout_percent"]), _json(p.get("shares", {})), p["source"])
         for r in rows for p in [orjson.loads(r["payload"])]])


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Official:
    """An official figure as stored: the figure and the event that announced it."""

    figure: OfficialFigure
    event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class Inputs:
    """Everything the quick count of one election is computed from."""

    sample: Sample
    sample_event_id: str
    turnout: list[StationTurnout]
    protocols: list[StationProtocol]
    official: list[Official]


async def load_inputs(conn: asyncpg.Connection, election_id: str) -> Inputs | None:
    """The latest sample of ``election_id`` and its stations' figures; None without a sample."""
    row = await conn.fetchrow("SELECT event_id, sample::text AS sample, final_hour "
                              "FROM quickcount_samples WHERE election_id = $1", election_id)
    if row is None:
        return None
    sample = Sample.from_payload(orjson.loads(row["sample"]))
    ids = list(sample.station_ids)
    registered = {r["station_id"]: r["registered_voters"] for r in await conn.fetch(
        "SELECT station_id, registered_voters FROM station_registry "
        "WHERE station_id = ANY($1::text[])", ids)}
    hourly: dict[str, dict[int, int]] = {}
    for r in await conn.fetch("SELECT station_id, hour, voters FROM station_turnout "
                              "WHERE station_id = ANY($1::text[]) AND election_id = $2",
                              ids, election_id):
        hourly.setdefault(r["station_id"], {})[r["hour"]] = r["voters"]
    papers = {r["station_id"]: r for r in await conn.fetch(
        "SELECT station_id, ballots_cast, votes::text AS votes FROM quickcount_protocols "
        "WHERE station_id = ANY($1::text[]) AND election_id = $2", ids, election_id)}
    turnout = [t for s in ids if (t := station_turnout(
        s, registered.get(s), hourly.get(s, {}),
        papers[s]["ballots_cast"] if s in papers else None, row["final_hour"])) is not None]
    protocols = [StationProtocol(s, orjson.loads(p["votes"])) for s, p in sorted(papers.items())]
    official = [Official(OfficialFigure(r["level"], r["turnout_percent"], r["source"],
                                        r["region"] or None, orjson.loads(r["shares"])),
                         str(r["event_id"]), r["occurred_at"])
                for r in await conn.fetch(
                    "SELECT level, region, turnout_percent, source, shares::text AS shares, "
                    "event_id, occurred_at FROM quickcount_official WHERE election_id = $1 "
                    "ORDER BY level, region", election_id)]
    return Inputs(sample, str(row["event_id"]), turnout, protocols, official)


def found_discrepancies(inputs: Inputs, final: QuickCount) -> list[Discrepancy]:
    """The official figures the final figures (``final_count``) contradict (pure)."""
    return discrepancies(final, [o.figure for o in inputs.official])


def alerts(inputs: Inputs) -> list[Breach]:
    """The discrepancy alerts the inputs support (pure)."""
    by_figure = {(o.figure.level, o.figure.region): o for o in inputs.official}
    final = final_count(inputs.sample, inputs.turnout, inputs.protocols)
    return [discrepancy_alert(d, inputs.sample_event_id, by_figure[(d.level, d.region)])
            for d in found_discrepancies(inputs, final)]


def discrepancy_alert(d: Discrepancy, sample_event_id: str, official: Official) -> Breach:
    """The ``quickcount.discrepancy`` alert of one discrepancy; its id names what it is about."""
    what = "turnout" if d.measure == "turnout" else f"share of {d.candidate}"
    scope = "national" if d.level == "national" else d.region
    title = (f"Official {scope} {what} {d.official:.1f} % is outside the quick count's "
             f"{d.confidence:.0%} interval {d.ci_low:.1f}–{d.ci_high:.1f} % (estimate "
             f"{d.estimate:.1f} %, {d.reported} of {d.sampled} sampled stations reported)")
    return Breach(str(uuid.uuid5(BREACH_NAMESPACE, f"{RULE_ID}|{d.key}")), RULE_ID, "high",
                  title, None, tuple(sorted({sample_event_id, official.event_id})), None,
                  d.region, None, official.occurred_at, d.election_id, "alert",
                  _rounded(d.payload()))


def _rounded(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in payload.items()}


async def evaluate(conn: asyncpg.Connection, election_id: str) -> list[Change]:
    """Rebuild the election's discrepancy alerts from the committed tables.

    An alert the figures no longer support is deleted, as the turnout alerts are: its row
    then depends only on the final state, as a replay in any batch sizes would find it.
    """
    inputs = await load_inputs(conn, election_id)
    found = alerts(inputs) if inputs is not None else []
    old = {r["id"]: r for r in await conn.fetch(
        "SELECT breach_id::text AS id, title, detail::text AS detail, region, occurred_at "
        "FROM breaches WHERE rule_id = $1 AND election_id = $2", RULE_ID, election_id)}
    fresh = [a for a in found if a.breach_id not in old
             or (old[a.breach_id]["title"], orjson.loads(old[a.breach_id]["detail"] or "null"),
                 old[a.breach_id]["occurred_at"]) != (a.title, a.detail, a.occurred_at)]
    gone = [r for i, r in sorted(old.items()) if i not in {a.breach_id for a in found}]
    await delete_breaches(conn, [r["id"] for r in gone])
    return await upsert_breaches(conn, fresh) + [
        {"kind": "breach_withdrawn", "region": r["region"], "station_id": None,
         "data": {"breach_id": r["id"], "rule_id": RULE_ID}} for r in gone]


def _estimate(e: Estimate | None, confidence: bool = False) -> dict[str, Any] | None:
    if e is None:
        return None
    out = {"estimate": round(e.estimate, 2), "ci_low": round(e.ci_low, 2),
           "ci_high": round(e.ci_high, 2)}
    return {**out, "confidence": e.confidence} if confidence else out


def view(election_id: str, inputs: Inputs, confidence: float) -> dict[str, Any]:
    """``GET /v1/quickcount``: the estimates at ``confidence``, the official figures, the
    discrepancies (always judged at 99 %, on the final figures) and what the national check
    waits for. Percentages 0–100. Pure."""
    count = quick_count(inputs.sample, inputs.turnout, inputs.protocols, confidence)
    final = final_count(inputs.sample, inputs.turnout, inputs.protocols)
    national = next((o.figure for o in inputs.official if o.figure.level == "national"), None)
    regional = {o.figure.region: o.figure for o in inputs.official if o.figure.level == "region"}
    return {
        "election_id": election_id,
        "sample": {"sample_id": count.sample_id, "stations": count.sampled,
                   "reported": count.reported, "final": count.final,
                   "hourly": count.reported - count.final, "protocols": count.protocols,
                   "drawn_at": inputs.sample.drawn_at.isoformat(), "seed": inputs.sample.seed},
        "turnout": _estimate(count.turnout, confidence=True) or {
            "estimate": None, "ci_low": None, "ci_high": None, "confidence": confidence},
        "shares": {name: _estimate(e) for name, e in count.shares.items()},
        "regions": [_region(r, regional.get(r.region)) for r in count.regions],
        "missing_regions": list(count.missing_regions),
        "official": _official(national),
        "national_check": {"turnout": national_readiness(final, "turnout").as_dict(),
                           "shares": national_readiness(final, "share").as_dict()},
        "discrepancies": [_rounded(d.payload()) for d in found_discrepancies(inputs, final)],
    }


def _region(r: RegionCount, official: OfficialFigure | None) -> dict[str, Any]:
    return {"region": r.region, "sampled": r.sampled, "reported": r.reported, "final": r.final,
            "protocols": r.protocols, "turnout": _estimate(r.turnout, confidence=True),
            "shares": {name: _estimate(e) for name, e in r.shares.items()},
            "official": _official(official)}


def _official(figure: OfficialFigure | None) -> dict[str, Any] | None:
    if figure is None:
        return None
    return {"turnout": figure.turnout_percent, "shares": dict(figure.shares),
            "source": figure.source}


async def quickcount_view(conn: asyncpg.Connection, election_id: str,
                          confidence: float) -> dict[str, Any] | None:
    """The quick count of ``election_id`` now; None when no sample was drawn for it."""
    inputs = await load_inputs(conn, election_id)
    return None if inputs is None else view(election_id, inputs, confidence)


async def frame(conn: asyncpg.Connection, schema: str) -> list[tuple[str, str, int]]:
    """The sampling frame as the read models hold it: (station_id, region, registered_voters)
    of every registered station with a region and registered voters."""
    rows = await conn.fetch(
        f'SELECT station_id, region, registered_voters FROM "{schema}".station_registry '
        "WHERE region IS NOT NULL AND registered_voters > 0 ORDER BY station_id")
    return [(r["station_id"], r["region"], r["registered_voters"]) for r in rows]
