"""Detention-surge alerts, decided from the detention buckets the batch touched.

Kept in the ``breaches`` table; a read model of its own because it is evaluated after the
batch's detentions and breaches are written.
"""
from __future__ import annotations

from datetime import timedelta

import asyncpg

from saylau.domain.breach import Breach, RuleConfig, detention_surge
from saylau.domain.vocabulary import (
    BREACH_WITHDRAWN,
    DETENTION_REPORTED,
    UNKNOWN_REGION,
    UNSPECIFIED_CITY,
    WITHDRAWN_STATUSES,
)
from saylau.readmodels import detentions
from saylau.readmodels.base import Batch, Change, ReadModel
from saylau.readmodels.breaches import upsert_breaches
from saylau.readmodels.detentions import Bucket


def fold(batch: Batch, config: RuleConfig) -> list[Bucket]:
    """The city time buckets whose detention counts the batch changed."""
    return list(detentions.fold(batch, config).detention_buckets)


async def evaluate_surges(conn: asyncpg.Connection, keys: list[Bucket],
                          config: RuleConfig) -> list[Change]:
    """Flag a detention surge per touched city and time bucket, from the bucket's totals only.

    Open when the standing reports exceed the threshold; withdrawn when only the reports
    ever made did (some were retracted or rejected); otherwise no row. The outcome depends
    on the log, never on arrival order or batch boundaries, so replay agrees with live.
    Set-based: one query for the totals, one for the evidence, two upserts.
    """
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
            + await upsert_breaches(conn, [b for b in gone if b is not None], BREACH_WITHDRAWN))


READ_MODEL = ReadModel("surges", (), fold, evaluate_surges,
                       after=("events", "detentions", "breaches"))


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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SURGE_EVIDENCE = f"""
SELECT t.i, e.event_id::text AS id, e.status <> ALL($5::text[]) AS ok
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
  WITH ORDINALITY AS t(region, city, lo, hi, i)
JOIN events e ON e.type = {_literal(DETENTION_REPORTED)}
  AND coalesce(e.region, {_literal(UNKNOWN_REGION)}) = t.region
  AND coalesce(e.city, {_literal(UNSPECIFIED_CITY)}) = t.city
  AND e.occurred_at >= t.lo AND e.occurred_at < t.hi
"""
"""The type and the stand-ins for a missing place are written into the statement (not
parameters) so the planner matches them to the partial expression index
``events_detentions_place``: one index range per bucket, not a scan of the log."""


async def _surge_evidence(conn: asyncpg.Connection, keys: list[Bucket], config: RuleConfig
                          ) -> dict[Bucket, tuple[list[str], list[str]]]:
    """Per bucket: ids of the standing detention reports, and of all reports ever made."""
    evidence: dict[Bucket, tuple[list[str], list[str]]] = {k: ([], []) for k in keys}
    if not keys:
        return evidence
    window = timedelta(minutes=config.surge_window_minutes)
    rows = await conn.fetch(
        SURGE_EVIDENCE, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        [k[2] + window for k in keys], list(WITHDRAWN_STATUSES))
    for r in rows:
        standing, ever = evidence[keys[r["i"] - 1]]
        ever.append(r["id"])
        if r["ok"]:
            standing.append(r["id"])
    return evidence
