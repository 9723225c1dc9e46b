"""CPU per event of one projector worker draining a pre-filled topic: its process and its
PostgreSQL backends, measured from the first visible batch to the last (startup excluded).

On a shared machine wall-clock rates swing with the load; CPU per event does not, and it
bounds the rate. The projector's own CPU is every thread of its process (faust, aiokafka,
the projection); the backends are the PostgreSQL processes serving its connections (found
by the client ports of its sockets).

    . infra/env.sh && BENCH_EVENTS=30000 .venv/bin/python -m bench.projector_cpu
    # with a py-spy profile of the drain (raw folded stacks) written to PATH:
    .venv/bin/python -m bench.projector_cpu --profile PATH
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench import ceilings, events
from bench.phases import visible
from bench.stacks import BENCH_ENV, drop
from saylau.settings import Settings
from tests.stack import Stack

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def client_ports(pid: int, server_port: int) -> set[int]:
    """Local ports of ``pid``'s TCP connections to ``server_port``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == server_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


async def backends(conn: asyncpg.Connection, pid: int, pg_port: int) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``pid``."""
    ports = client_ports(pid, pg_port)
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1)",
                            list(ports))
    out = {}
    for r in rows:
        try:
            out[r["pid"]] = cpu_seconds(r["pid"])
        except OSError:
            pass
    return out


def start_py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` while it holds the GIL (its Python CPU), folded stacks."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                             str(pid), "-r", "200", "--gil", "--format", "raw", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run(n: int, partitions: int, profile: str | None) -> dict[str, Any]:
    settings = Settings()
    pg_port = int(settings.dsn.rsplit(":", 1)[1].split("/")[0])
    records = events.log_records(events.events(n, 1), partitions)
    stack = Stack(partitions=partitions, extra_env=BENCH_ENV)
    topic = f"{stack.name}.events"
    conn = await asyncpg.connect(settings.dsn)
    spy = None
    try:
        await ceilings.create_topic(settings, topic, partitions)
        await ceilings.produce(settings, topic, records)
        load = os.getloadavg()
        pid = stack.start_projector().pid
        seen0 = 0
        while not seen0:
            try:
                seen0 = sum((await visible(conn, topic)).values())
            except asyncpg.UndefinedTableError:
                pass
            await asyncio.sleep(0.005)
        cpu0, pg0, wall0 = cpu_seconds(pid), await backends(conn, pid, pg_port), time.time()
        if profile:
            spy = start_py_spy(pid, profile)
        seen, deadline = seen0, time.time() + 120
        while seen < n and time.time() < deadline:
            await asyncio.sleep(0.005)
            seen = sum((await visible(conn, topic)).values())
            pg1 = await backends(conn, pid, pg_port)  # before the pool closes any
        cpu1, wall1 = cpu_seconds(pid), time.time()
        pg = sum(v - pg0.get(k, 0.0) for k, v in pg1.items())
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        stack.stop()
        await drop(conn, settings, stack.name, [topic, f"{stack.name}.dlq"])
        await conn.close()
    counted = seen - seen0
    return {"when": time.strftime("%FT%T%z"), "events": n, "counted": counted,
            "load_average_before": load,
            "projector_cpu_us_per_event": round(1e6 * (cpu1 - cpu0) / counted, 1),
            "postgres_cpu_us_per_event": round(1e6 * pg / counted, 1),
            "wall_events_per_second": round(counted / (wall1 - wall0))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", "30000")))
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--profile", help="write a py-spy raw profile of the drain here")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.events, args.partitions, args.profile))))


if __name__ == "__main__":
    main()
