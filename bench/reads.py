"""Read benchmark: api latency per endpoint as the log grows, while ingest keeps writing.

For each size in BENCH_READ_SIZES (default 100000,1000000,3000000): a fresh stack; the
events are generated as ingest would append them (``bench.events.log_records``), produced
to the stack's topic and projected by ``saylau replay`` into the stack's read schema (the
real projection; it stores the offsets, so the live projector carries on from there) and
vacuumed (``VACUUM (ANALYZE)``, as after any bulk load). Then
ingest takes BENCH_READ_RATE events/s (default 1,000) and, SETTLE seconds later (the
projector joins its group and catches up with the feed), ``wrk`` (50 connections,
BENCH_READ_SECONDS each, default 20) hits each endpoint in turn, served by
BENCH_READ_API_WORKERS api processes (default ``API_WORKERS``'s, as ``scripts/up.sh``: one
per two cores), after WARM_UP seconds of the same load that are not counted (the first
answers of a fresh api open its pool's connections). Prints p50/p99 per endpoint per size,
and writes ``bench/results/reads.json`` and ``reads.svg``.

    . infra/env.sh && BENCH_READ_SIZES=100000 .venv/bin/python -m bench.reads
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench.events import VOTING_DAY, events, log_records
from bench.replay_rate import valid
from saylau.log.kafka import ensure_topics
from saylau.settings import Settings
from tests.stack import Stack, wait_until

SIZES = [int(s) for s in os.environ.get("BENCH_READ_SIZES", "100000,1000000,3000000").split(",")]
SECONDS = int(os.environ.get("BENCH_READ_SECONDS", "20"))
RATE = int(os.environ.get("BENCH_READ_RATE", "1000"))
CONNECTIONS = int(os.environ.get("BENCH_READ_CONNECTIONS", "50"))
API_WORKERS = int(os.environ.get("BENCH_READ_API_WORKERS",
                                 os.environ.get("API_WORKERS", max(1, (os.cpu_count() or 2) // 2))))
CHUNK = 100_000
WARM_UP = 3
SETTLE = 15
RESULTS = Path(__file__).resolve().parent / "results"
SAYLAU = Path(sys.executable).parent / "saylau"
AS_OF = (VOTING_DAY + timedelta(hours=7)).isoformat()


def say(message: str) -> None:
    print(f"[reads {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def produce(cfg: Settings, n: int) -> None:
    """``n`` generated log records on the stack's topic, in chunks (bounded memory)."""
    await ensure_topics(cfg)
    producer = AIOKafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        for start in range(0, n, CHUNK):
            records = log_records(valid(events(min(CHUNK, n - start), seed=start)),
                                  cfg.events_partitions)
            sends = [await producer.send(cfg.events_topic, value, key=key, partition=p)
                     for p, key, value in records]
            await asyncio.gather(*sends)
            say(f"produced {start + len(records):,}/{n:,}")
    finally:
        await producer.stop()


def project(stack: Stack) -> float:
    """Events/s of ``saylau replay`` projecting the topic into the stack's read schema."""
    done = subprocess.run([str(SAYLAU), "replay", "--schema", stack.name, "--force",
                           "--batch", "5000"], env=stack.env, capture_output=True, text=True,
                          check=True)
    found = re.search(r"([\d,]+) events/s", done.stdout)
    return float(found.group(1).replace(",", "")) if found else 0.0


async def vacuum(cfg: Settings) -> float:
    """``VACUUM (ANALYZE)`` of the loaded read schema, as after any bulk load: the
    autovacuum the load would trigger then does not run during the measurement."""
    started = time.perf_counter()
    conn = await asyncpg.connect(cfg.dsn)
    try:
        for (name,) in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1",
                                        cfg.read_schema):
            await conn.execute(f'VACUUM (ANALYZE) "{cfg.read_schema}"."{name}"')
    finally:
        await conn.close()
    return time.perf_counter() - started


def endpoints(stack: Stack) -> dict[str, str]:
    """Each read the dashboard and partners make, with real ids of this stack."""
    head = {"Authorization": f"Bearer {stack.reader_key}"}
    breach = httpx.get(f"{stack.api_url}/v1/breaches", params={"limit": 1}, headers=head,
                       timeout=60).json()["breaches"][0]["breach_id"]
    event = events(1, seed=0)[0]["event_id"]
    return {"triage": "/v1/triage?limit=50",
            "detentions as_of": f"/v1/detentions?as_of={AS_OF.replace('+', '%2B')}",
            "detentions": "/v1/detentions",
            "timeline": "/v1/timeline?bucket_minutes=10",
            "breaches": "/v1/breaches?limit=100",
            "breach events": f"/v1/breaches/{breach}/events?limit=100",
            "breaches summary": "/v1/breaches/summary",
            "regions": "/v1/regions",
            "stations": "/v1/stations?limit=100",
            "station timeline": "/v1/stations/PS-1/timeline?limit=100",
            "event": f"/v1/events/{event}"}


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(stack: Stack, path: str, seconds: int = SECONDS) -> dict[str, float]:
    """p50 / p99 in ms, requests/s and non-2xx answers of ``CONNECTIONS`` readers."""
    out = subprocess.run(["wrk", f"-t{min(2, CONNECTIONS)}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          "--timeout", "10s", "-H", f"Authorization: Bearer {stack.reader_key}",
                          f"{stack.api_url}{path}"], capture_output=True, text=True,
                         check=True).stdout

    def percentile(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return round(float(found.group(1)) * UNITS[found.group(2)], 2) if found else -1.0

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50_ms": percentile("50"), "p99_ms": percentile("99"),
            "rps": float(rps.group(1)) if rps else 0.0,
            "non_2xx": int(errors.group(1)) if errors else 0}


def start_feed(stack: Stack) -> subprocess.Popen[bytes]:
    """Ingest at ``RATE`` events/s, in a process of its own, until terminated."""
    return subprocess.Popen([sys.executable, "-m", "bench.read_feed", stack.ingest_url,
                             stack.writer_key, str(RATE)], env=stack.env)


def run_size(n: int) -> dict[str, Any]:
    stack = Stack(extra_env={"RATE_LIMIT_PER_SECOND": "0"}, api_workers=API_WORKERS)
    cfg = Settings(events_topic=stack.env["EVENTS_TOPIC"], read_schema=stack.name)
    started = time.perf_counter()
    asyncio.run(produce(cfg, n))
    produced = time.perf_counter() - started
    say(f"{n:,}: produced in {produced:.0f} s; projecting with saylau replay")
    rate = project(stack)
    say(f"{n:,}: projected at {rate:,.0f} events/s; VACUUM (ANALYZE) took "
        f"{asyncio.run(vacuum(cfg)):.0f} s")
    feed = None
    try:
        stack.start()
        wait_until(lambda: httpx.get(f"{stack.api_url}/v1/breaches", timeout=30, headers={
            "Authorization": f"Bearer {stack.reader_key}"}).json()["breaches"], 120)
        feed = start_feed(stack)
        time.sleep(SETTLE)  # the projector joins its group and catches up with the feed
        figures = {}
        for name, path in endpoints(stack).items():
            wrk(stack, path, WARM_UP)
            figures[name] = wrk(stack, path)
            say(f"{n:,} {name:<18} p50 {figures[name]['p50_ms']:>8.1f} ms  "
                f"p99 {figures[name]['p99_ms']:>8.1f} ms  {figures[name]['rps']:>7.0f} req/s"
                f"  non-2xx {figures[name]['non_2xx']}")
        return {"events": n, "replay_events_per_s": rate, "endpoints": figures}
    finally:
        if feed is not None:
            feed.terminate()
            feed.wait(30)
        stack.stop()


def table(results: list[dict[str, Any]]) -> str:
    names = list(results[0]["endpoints"])
    head = f"{'endpoint':<18}" + "".join(f"{r['events']:>22,}" for r in results)
    lines = [head, f"{'':<18}" + "".join(f"{'p50 / p99 ms':>22}" for _ in results)]
    for name in names:
        lines.append(f"{name:<18}" + "".join(
            f"{r['endpoints'][name]['p50_ms']:>12.1f} / {r['endpoints'][name]['p99_ms']:<7.1f}"
            for r in results))
    return "\n".join(lines)


def svg(results: list[dict[str, Any]]) -> str:
    """p99 per endpoint (one line each) against the log size."""
    w, h, left, bottom = 760, 420, 60, 40
    names = list(results[0]["endpoints"])
    top = max(max(r["endpoints"][e]["p99_ms"] for e in names) for r in results) or 1
    xs = {r["events"]: left + (i + 0.5) * (w - left - 160) / len(results)
          for i, r in enumerate(results)}

    def y(ms: float) -> float:
        return h - bottom - ms / top * (h - bottom - 20)

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="11">'),
             (f'<text x="{left}" y="14">p99 latency (ms) per endpoint, {CONNECTIONS} readers, '
             f'ingest at {RATE}/s</text>'),
             (f'<line x1="{left}" y1="{h - bottom}" x2="{w - 160}" y2="{h - bottom}" '
             'stroke="black"/>'),
             f'<text x="4" y="{y(top) + 4:.0f}">{top:.0f} ms</text>',
             f'<text x="4" y="{y(0):.0f}">0</text>']
    parts += [f'<text x="{x:.0f}" y="{h - bottom + 16}" text-anchor="middle">{n:,} events</text>'
              for n, x in xs.items()]
    for i, name in enumerate(names):
        colour = f"hsl({i * 360 // len(names)},70%,40%)"
        points = " ".join(f"{xs[r['events']]:.0f},{y(r['endpoints'][name]['p99_ms']):.0f}"
                          for r in results)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"/>')
        parts += [f'<circle cx="{xs[r["events"]]:.0f}" '
                  f'cy="{y(r["endpoints"][name]["p99_ms"]):.0f}" r="3" fill="{colour}"/>'
                  for r in results]
        parts.append(f'<text x="{w - 150}" y="{30 + i * 16}" fill="{colour}">{name}</text>')
    return "\n".join([*parts, "</svg>"])


def main() -> None:
    results: list[dict[str, Any]] = []
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for n in SIZES:  # saved after each size: a long run stopped early keeps what it measured
        results.append(run_size(n))
        payload = {"at": stamp, "seconds": SECONDS, "connections": CONNECTIONS,
                   "ingest_rate": RATE, "api_workers": API_WORKERS, "sizes": results}
        (RESULTS / "reads.json").write_text(json.dumps(payload, indent=1) + "\n")
        (RESULTS / "reads.svg").write_text(svg(results) + "\n")
        print(table(results), flush=True)
    print(f"written: {RESULTS / 'reads.json'}, {RESULTS / 'reads.svg'}")


if __name__ == "__main__":
    main()
