"""Which engine binds: CPU per event of the projection's Python and of its PostgreSQL backend.

Applies ingest-built records with ``Projection.apply`` (no Kafka) in three modes and reads
the CPU time both sides spent: this process's ``process_time`` and the backend's
utime + stime from ``/proc/<backend pid>/stat`` (PostgreSQL on this machine). Wall-clock
rates on a shared machine swing with its load; CPU per event does not, and it bounds the
rate: on C cores no rate can pass C / (python + postgres CPU per event).

    live         the live projector's transaction (change feed, every index)
    replay       saylau replay's before this branch (no change feed, every index)
    replay-bulk  saylau replay's now (indexes deferred, synchronous_commit off)

    . infra/env.sh && .venv/bin/python -m bench.cpu_split 21000 5000
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bench import events
from saylau.audit.replay import bulk_session, deferred_indexes
from saylau.catalogue import catalogue
from saylau.domain.calendar import Calendars
from saylau.domain.rules import RuleConfig
from saylau.log.decode import Message, compiled
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import Projection
from saylau.settings import Settings
from saylau.store.db import migrate

RESULTS = Path(__file__).resolve().parent / "results" / "cpu_split.json"
MODES = ("live", "replay", "replay-bulk")


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(mode: str, messages: list[Message], batch: int) -> dict[str, Any]:
    schema = "cpu_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(Settings().dsn)
    cat = catalogue()
    compiled(cat)
    feed = ChangeFeed(notify=True) if mode == "live" else None
    projection = Projection(schema, f"{schema}.events", cat, Calendars.load(), RuleConfig(),
                            feed)
    try:
        if mode == "replay-bulk":
            await migrate(conn, schema, deferred_indexes=deferred_indexes())
            await bulk_session(conn)
        else:
            await migrate(conn, schema)
        await projection.apply(conn, messages[:batch])  # warm caches and prepared statements
        pid, load = conn.get_server_pid(), os.getloadavg()
        pg, cpu, wall = backend_cpu(pid), time.process_time(), time.perf_counter()
        for i in range(batch, len(messages), batch):
            await projection.apply(conn, messages[i:i + batch])
        n = len(messages) - batch
        pg, cpu = backend_cpu(pid) - pg, time.process_time() - cpu
        wall = time.perf_counter() - wall
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    python_us, postgres_us = 1e6 * cpu / n, 1e6 * pg / n
    cores = os.cpu_count() or 1
    return {"mode": mode, "events": n, "batch": batch, "load_average_before": load,
            "python_cpu_us_per_event": round(python_us), "postgres_cpu_us_per_event":
            round(postgres_us), "wall_events_per_second": round(n / wall),
            "bound_one_process": round(1e6 / max(python_us, postgres_us)),
            f"bound_{cores}_cores": round(cores * 1e6 / (python_us + postgres_us))}


async def main(n: int, batch: int) -> list[dict[str, Any]]:
    records = events.log_records(events.events(n, 11), 6)
    messages = [Message(p, i, v) for i, (p, _, v) in enumerate(records)]
    return [await measure(mode, messages, batch) for mode in MODES]


if __name__ == "__main__":
    found = asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 21000,
                             int(sys.argv[2]) if len(sys.argv) > 2 else 5000))
    for row in found:
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"when": time.strftime("%FT%T%z"), "cores": os.cpu_count(),
                                   "runs": found}, indent=2) + "\n")
