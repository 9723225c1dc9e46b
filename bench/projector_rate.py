"""Projector rate beside a bare faust agent, on the same pre-filled topic, in one run.

The bare agent is a faust worker with the projector's own settings
(``services.projector.app.faust_settings``, the same event loop) whose agent only counts the
``take_events`` batches: the framework's ceiling. The projector then drains the same records
into a fresh schema. Both rates run from the first batch seen to the last; the load average
is taken before each.

    . infra/env.sh && .venv/bin/python -m bench.projector_rate --events 50000
    # the agent alone (what bench.pipeline runs as a subprocess):
    .venv/bin/python -m bench.projector_rate --bare-agent TOPIC COUNT
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "projector_rate.json"


def bare_agent(topic: str, count: int) -> None:
    """Run a faust worker that counts ``count`` records of ``topic``; print the rate, exit."""
    import faust
    from faust.worker import Worker
    from mode.loop import use as use_loop

    from saylau.collector import quiet_collector
    from saylau.settings import Settings
    from services.projector.app import faust_settings

    use_loop(os.environ.get("FAUST_LOOP") or "uvloop")
    cfg = Settings(projector_group=f"bench-bare-{uuid.uuid4().hex[:8]}")
    app = faust.App(cfg.projector_group, **faust_settings(cfg, Path(tempfile.mkdtemp())))
    source = app.topic(topic, value_type=bytes, key_type=bytes)
    seen: dict[str, Any] = {"n": 0, "first": None}

    @app.agent(source)
    async def count_batches(stream: Any) -> Any:
        quiet_collector()  # as the projector does once connected
        async for events in stream.take_events(cfg.projector_batch,
                                               cfg.projector_batch_seconds):
            now = time.perf_counter()
            if seen["first"] is None:
                seen["first"], seen["first_n"] = now, len(events)
            seen["n"] += len(events)
            if seen["n"] >= count:
                counted = seen["n"] - seen["first_n"]
                rate = counted / (now - seen["first"]) if now > seen["first"] else 0.0
                print(json.dumps({"bare_agent": rate, "records": seen["n"]}), flush=True)
                os._exit(0)
            yield None

    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def measure_bare_agent(topic: str, count: int, timeout: float = 120) -> float:
    """Events/s of the bare faust agent over ``count`` records of ``topic`` (subprocess)."""
    done = subprocess.run([sys.executable, "-m", "bench.projector_rate", "--bare-agent", topic,
                           str(count)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    found = re.search(r'\{"bare_agent": [^}]*\}', done.stdout + done.stderr)  # faust logs stdout
    if found:
        return float(json.loads(found[0])["bare_agent"])
    raise RuntimeError(f"bare faust agent failed: {done.stderr[-2000:]}")


async def run(n: int, partitions: int) -> dict[str, Any]:
    import asyncpg

    from bench import ceilings, events
    from bench.phases import wait_visible
    from bench.stacks import BENCH_ENV, drop, rss_of
    from saylau.settings import Settings
    from tests.stack import Stack

    settings = Settings()
    records = events.log_records(events.events(n, 1), partitions)
    stack = Stack(partitions=partitions, extra_env=BENCH_ENV)
    topic = f"{stack.name}.events"
    conn = await asyncpg.connect(settings.dsn)
    try:
        await ceilings.create_topic(settings, topic, partitions)
        await ceilings.produce(settings, topic, records)
        load_bare = os.getloadavg()
        bare = await asyncio.to_thread(measure_bare_agent, topic, n)
        load_projector = os.getloadavg()
        stack.start_projector()
        seen, done, first = await wait_visible(conn, topic, n, 120)
        projector = seen / (done - first) if first and done > first else 0.0
        rss = rss_of(stack)
    finally:
        stack.stop()
        await drop(conn, settings, stack.name, [topic, f"{stack.name}.dlq"])
        await conn.close()
    return {"when": time.strftime("%FT%T%z"), "events": n, "partitions": partitions,
            "faust_loop": os.environ.get("FAUST_LOOP") or "uvloop",
            "bare_agent": round(bare), "load_average_before_bare": load_bare,
            "projector_one_worker": round(projector),
            "load_average_before_projector": load_projector,
            "projector_share_of_bare": round(projector / bare, 3) if bare else None,
            "peak_rss_mib": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--bare-agent", nargs=2, metavar=("TOPIC", "COUNT"))
    args = ap.parse_args()
    if args.bare_agent:
        bare_agent(args.bare_agent[0], int(args.bare_agent[1]))
        return
    result = asyncio.run(run(args.events, args.partitions))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
