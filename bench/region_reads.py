"""Reads of a principal bound to a region beside the national ones, on one loaded schema
(``python -m bench.region_reads``), and what the region binding cost the national reads.

BENCH_REGION_EVENTS generated events (default 100,000; 17 regions, 10,000 stations) are
produced to a fresh topic and projected by ``saylau replay`` (its events/s is printed: the
projection now also keeps reports per region and minute), the schema is vacuumed, then each
read function the api's routes call is timed REPEAT times on one connection, national
(``within=None``) and for a principal bound to one region (``within=["Region-3"]``): p50 and
p95 in ms. No HTTP: the read itself, where the binding lives (``wrk``, which
``bench.reads`` drives, is not on every machine).

BENCH_BASE=<rev> first runs the same bench on that revision (``git archive`` into a
temporary directory, imported through PYTHONPATH), so one run prints before and after::

    . infra/env.sh && BENCH_BASE=1e30109 .venv/bin/python -m bench.region_reads
"""
from __future__ import annotations

import asyncio
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.events import VOTING_DAY
from bench.reads import produce, project, vacuum
from saylau.domain.calendar import Calendars
from saylau.privacy.records import Names
from saylau.readmodels import (
    as_of,
    breaches,
    coverage,
    detentions,
    rollups,
    stations,
    timeline,
    triage,
)
from saylau.readmodels import events as stored
from saylau.settings import Settings
from tests.stack import Stack

N = int(os.environ.get("BENCH_REGION_EVENTS", "100000"))
REPEAT = int(os.environ.get("BENCH_REGION_REPEAT", "40"))
REGION = ["Region-3"]
AT = VOTING_DAY + timedelta(hours=7)
Read = Callable[..., Awaitable[Any]]


def bound(read: Read, *args: Any) -> Callable[[asyncpg.Connection, list[str] | None], Any]:
    """``read(conn, *args)``, with ``within`` where this revision takes it (None: a regional
    read this revision cannot make)."""
    takes = "within" in inspect.signature(read).parameters

    def call(conn: asyncpg.Connection, within: list[str] | None) -> Any:
        if within is not None and not takes:
            return None
        return read(conn, *args, **({"within": within} if takes else {}))
    return call


def reads(some: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    hidden = Names(None, False)
    election = Calendars.load().get("kz-2021-01-10")
    return {
        "regions": bound(rollups.regions),
        "breaches summary": bound(rollups.breach_summary),
        "detentions": bound(detentions.detentions),
        "detentions as_of": bound(as_of.detentions_as_of, AT),
        "timeline": bound(timeline.report_timeline, 10, 144),
        "breaches": bound(breaches.list_breaches, None, None, None, None, None, 100),
        "breach events": bound(breaches.breach_evidence, some["breach_id"], 100),
        "stations": bound(stations.list_stations, None, 101),
        "triage": bound(triage.triage_queue_page, 50, hidden),
        "event": bound(stored.event, some["event_id"], hidden),
        "coverage": bound(coverage.coverage, election, None, AT, 30)}


async def timed(conn: asyncpg.Connection, call: Callable[..., Any],
                within: list[str] | None) -> str:
    first = call(conn, within)
    if first is None:
        return f"{'-':>17}"
    await first  # warm: the statement prepared, its pages cached
    spent = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        await call(conn, within)
        spent.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(spent, n=20)[-1]
    return f"{statistics.median(spent):>8.2f} / {p95:<7.2f}"


async def measure(cfg: Settings) -> None:
    conn = await asyncpg.connect(cfg.dsn, server_settings={"search_path": cfg.read_schema})
    try:
        some = dict(await conn.fetchrow(
            "SELECT b.breach_id, e.event_id FROM breaches b, events e "
            "WHERE b.region = $1 AND e.region = $1 LIMIT 1", REGION[0]))
        print(f"{'read':<18}{'national p50 / p95 ms':>22}{'Region-3 p50 / p95 ms':>24}")
        for name, call in reads(some).items():
            national = await timed(conn, call, None)
            regional = await timed(conn, call, REGION)
            print(f"{name:<18}{national:>22}{regional:>24}", flush=True)
    finally:
        await conn.close()


def here() -> None:
    stack = Stack()
    cfg = Settings(events_topic=stack.env["EVENTS_TOPIC"], read_schema=stack.name)
    try:
        asyncio.run(produce(cfg, N))
        rate = project(stack)
        asyncio.run(vacuum(cfg))
        print(f"{N:,} events; saylau replay projected {rate:,.0f} events/s", flush=True)
        asyncio.run(measure(cfg))
    finally:
        stack.stop()


def at(rev: str) -> None:
    """The same bench on revision ``rev``, imported from an archive of it."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix=f"bench-{uuid.uuid4().hex[:6]}-") as tree:
        archive = subprocess.run(["git", "archive", rev], cwd=root, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        (Path(tree) / "bench" / "region_reads.py").write_text(Path(__file__).read_text())
        print(f"== before: {rev}", flush=True)
        subprocess.run([sys.executable, "-m", "bench.region_reads"], cwd=tree, check=True,
                       env={**os.environ, "PYTHONPATH": tree, "BENCH_BASE": ""})


if __name__ == "__main__":
    if os.environ.get("BENCH_BASE"):
        at(os.environ["BENCH_BASE"])
        print(f"== after: {datetime.now(UTC):%H:%M} this tree", flush=True)
    here()
