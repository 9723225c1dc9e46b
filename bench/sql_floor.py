"""PostgreSQL's floor under a replay: the exact statements a replay sends, with no Python
projection between them (``python -m bench.sql_floor``).

Target 4 of the speed issue asks 50,000 events/s of replay on this 2-core machine. Whatever
the Python costs, PostgreSQL must still execute what the projection writes. This bench
measures that part alone:

1. capture: N generated events are applied, partition by partition in chunks of
   ``--batch``, to a replay-style schema (secondary indexes deferred, bulk session) through a
   connection that records every statement with its arguments (BEGIN and COMMIT included);
2. floor: the schema is created afresh the same way and the recorded transactions are sent
   again, a partition's transactions in order on connection ``partition % connections``, as
   ``saylau replay`` shares them, then the deferred indexes are built as replay does.

It prints events/s of the floor pass, the CPU seconds every PostgreSQL process spent per
event (backends, WAL writer, checkpointer: all processes named ``postgres``), this client's
CPU per event (asyncpg encoding the recorded arguments), and the rate PostgreSQL's CPU alone
allows on this machine's cores. Statements whose arguments the capture computed from
results (the roll-ups' moves) are sent as captured: the same work, whatever the interleaving.

``--live`` captures a live projector's transactions instead (every index in place, the change
feed, the server's commit settings, no index build): PostgreSQL's share of a projector's
event. ``--unlogged`` loads a replay into UNLOGGED tables and sets them LOGGED after the index
build (the bulk-loading guide's other advice; here it costs more than it saves).

    export DATABASE_URL=...; .venv/bin/python -m bench.sql_floor --events 1000000 --connections 2 3
    .venv/bin/python -m bench.sql_floor --live --events 100000 --batch 2000 --connections 1
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import events
from saylau.audit.replay import build_indexes, bulk_session, prepare_schema, replay_projection
from saylau.log.decode import Message
from saylau.readmodels.changefeed import ChangeFeed
from saylau.readmodels.transaction import build_projection
from saylau.settings import Settings

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class Recording(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection that notes every call the projection makes on it."""

    calls: list[Call] | None

    def _note(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if getattr(self, "calls", None) is not None:
            self.calls.append(Call(method, args, kwargs))


RECORDED = ("execute", "fetch", "fetchval", "fetchrow", "copy_records_to_table")


def _noting(method: str) -> Any:
    async def call(self: Recording, *args: Any, **kwargs: Any) -> Any:
        self._note(method, args, kwargs)
        return await getattr(super(Recording, self), method)(*args, **kwargs)
    return call


for _method in RECORDED:
    setattr(Recording, _method, _noting(_method))


def chunks(records: list[tuple[int, bytes, bytes]], batch: int) -> list[list[Message]]:
    """Each partition's records in log order, cut in ``batch``es, partitions taken in turn
    (as a replay reads them)."""
    by_partition: dict[int, list[Message]] = defaultdict(list)
    for partition, _, value in records:
        mine = by_partition[partition]
        mine.append(Message(partition, len(mine), value))
    cut = {p: [ms[i:i + batch] for i in range(0, len(ms), batch)]
           for p, ms in sorted(by_partition.items())}
    return [c for turn in range(max(map(len, cut.values()))) for cs in cut.values()
            if turn < len(cs) for c in [cs[turn]]]


async def prepare(admin: asyncpg.Connection, cfg: Settings, schema: str, live: bool,
                  sessions: list[asyncpg.Connection]) -> None:
    """A replay's schema and ``sessions`` (indexes deferred, bulk settings), or, ``live``, a
    live projector's (every index, the server's own settings)."""
    await prepare_schema(admin, schema, cfg, force=True, defer_indexes=not live)
    for conn in sessions if not live else []:
        await bulk_session(conn)


async def capture(cfg: Settings, schema: str, topic: str, work: list[list[Message]],
                  live: bool) -> list[tuple[int, list[Call]]]:
    """Each chunk's transaction as the statements it sent, with its partition."""
    conn = await asyncpg.connect(cfg.dsn, command_timeout=None, connection_class=Recording)
    projection = (build_projection(cfg, schema, topic, ChangeFeed(notify=True)) if live
                  else replay_projection(schema, topic, cfg))
    done: list[tuple[int, list[Call]]] = []
    try:
        await prepare(conn, cfg, schema, live, [conn])
        for chunk in work:
            conn.calls = calls = []
            await projection.apply(conn, chunk, projection.decode(chunk))
            done.append((chunk[0].partition, calls))
        conn.calls = None
    finally:  # the floor pass creates it afresh
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    return done


def postgres_cpu() -> float:
    """CPU seconds of every process named ``postgres`` on this machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == "postgres":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


async def send(conn: asyncpg.Connection, calls: list[Call]) -> None:
    """One recorded transaction again; after a deadlock with another connection, again."""
    for attempt in range(10):
        try:
            for call in calls:
                await getattr(conn, call.method)(*call.args, **call.kwargs)
            return
        except asyncpg.exceptions.TransactionRollbackError:
            await conn.execute("ROLLBACK")
            await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError("a transaction deadlocked ten times")


async def tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    return [r[0] for r in await conn.fetch(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
        "WHERE schemaname = $1", schema)]


async def floor(cfg: Settings, schema: str, recorded: list[tuple[int, list[Call]]],
                connections: int, unlogged: bool = False, live: bool = False) -> dict[str, Any]:
    admin = await asyncpg.connect(cfg.dsn, command_timeout=None)
    conns = [await asyncpg.connect(cfg.dsn, command_timeout=None) for _ in range(connections)]
    try:
        await prepare(admin, cfg, schema, live, conns)
        if unlogged:  # PostgreSQL's bulk-loading advice: no WAL while loading, logged after
            for name in await tables(admin, schema):
                await admin.execute(f"ALTER TABLE {name} SET UNLOGGED")
        queues: list[list[list[Call]]] = [[] for _ in conns]
        for partition, calls in recorded:
            queues[partition % connections].append(calls)
        pg_before, client_before = postgres_cpu(), time.process_time()
        started = time.perf_counter()

        async def run(conn: asyncpg.Connection, transactions: list[list[Call]]) -> None:
            for calls in transactions:
                await send(conn, calls)

        await asyncio.gather(*(run(c, q) for c, q in zip(conns, queues, strict=True)))
        loaded = time.perf_counter()
        pg_loaded, client_loaded = postgres_cpu(), time.process_time()
        if not live:
            await build_indexes(admin, schema)
        if unlogged:
            for name in await tables(admin, schema):
                await admin.execute(f"ALTER TABLE {name} SET LOGGED")
        indexed = time.perf_counter()
        pg_indexed = postgres_cpu()
        return {"load_seconds": loaded - started, "index_seconds": indexed - loaded,
                "pg_cpu_load_s": pg_loaded - pg_before, "pg_cpu_index_s": pg_indexed - pg_loaded,
                "client_cpu_load_s": client_loaded - client_before}
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for conn in (admin, *conns):
            await conn.close()


async def main(n: int, batch: int, connections: list[int], partitions: int,
               unlogged: bool = False, live: bool = False) -> dict[str, Any]:
    cfg = Settings()
    schema, topic = "replay_floor_" + uuid.uuid4().hex[:8], "bench_floor.events"
    records = events.log_records(events.events(n, 29), partitions)
    work = chunks(records, batch)
    started = time.perf_counter()
    recorded = await capture(cfg, schema, topic, work, live)
    captured_s = time.perf_counter() - started
    statements = sum(len(calls) for _, calls in recorded)
    out: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "events": n,
        "partitions": partitions, "batch": batch, "unlogged_load": unlogged, "live": live, "cores": os.cpu_count(),
        "load_average_before": list(os.getloadavg()), "transactions": len(recorded),
        "statements": statements,
        "capture_events_per_s": round(n / captured_s), "runs": []}
    for k in connections:
        run = await floor(cfg, schema, recorded, k, unlogged, live)
        pg_us = 1e6 * run["pg_cpu_load_s"] / n
        run.update(connections=k, events_per_s=round(n / run["load_seconds"]),
                   events_per_s_with_indexes=round(n / (run["load_seconds"]
                                                        + run["index_seconds"])),
                   pg_cpu_us_per_event=round(pg_us, 1),
                   pg_cpu_us_per_event_with_indexes=round(
                       1e6 * (run["pg_cpu_load_s"] + run["pg_cpu_index_s"]) / n, 1),
                   client_cpu_us_per_event=round(1e6 * run["client_cpu_load_s"] / n, 1),
                   pg_only_bound_events_per_s=round((os.cpu_count() or 1) * 1e6 / pg_us))
        out["runs"].append(run)
        print(f"  {k} connection(s): {run['events_per_s']:,} events/s loaded "
              f"({run['events_per_s_with_indexes']:,}/s with the index build); PostgreSQL "
              f"{run['pg_cpu_us_per_event']} us CPU/event "
              f"({run['pg_cpu_us_per_event_with_indexes']} with indexes), client "
              f"{run['client_cpu_us_per_event']} us/event; PostgreSQL's CPU alone allows "
              f"{run['pg_only_bound_events_per_s']:,} events/s on {os.cpu_count()} cores",
              flush=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per transaction")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--unlogged", action="store_true",
                        help="load into UNLOGGED tables, SET LOGGED after the index build")
    parser.add_argument("--live", action="store_true",
                        help="a live projector's statements instead (every index, the change "
                        "feed, the server's commit settings; no index build)")
    args = parser.parse_args()
    print(f"sql floor: capturing {'a live projection' if args.live else 'a replay'} of "
          f"{args.events:,} events "
          f"({args.partitions} partitions, {args.batch:,} per transaction)", flush=True)
    figures = asyncio.run(main(args.events, args.batch, args.connections, args.partitions,
                               args.unlogged, args.live))
    stamp, kind = datetime.now(UTC).strftime("%Y%m%dT%H%M"), "live_" if args.live else ""
    for name in (f"sql_floor_{kind}{stamp}.json", f"sql_floor_{kind}latest.json"):
        (RESULTS / name).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"saved bench/results/sql_floor_{kind}{stamp}.json")
