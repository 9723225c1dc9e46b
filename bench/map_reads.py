"""The map's reads at a normal country's size: ``GET /v1/map/stations`` with 10,000 registered
stations (all of them, and a bounding box), ``GET /v1/map/regions``; size and time.

Starts a private stack (ingest + projector + api, 127.0.0.1 only), registers ``--stations``
stations with coordinates for one election across its regions, reports from a tenth of them
(so points carry open breaches and last reports), waits for the projection, then asks each
read ``--rounds`` times in a row (the api's read cache off: every answer is computed).
Prints the figures as JSON and writes them to ``bench/results/map_reads_<time>.json`` and
``map_reads_latest.json``.

    export KAFKA_BOOTSTRAP=… DATABASE_URL=…; .venv/bin/python -m bench.map_reads
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.stacks import BENCH_ENV
from saylau.domain.calendar import Calendars
from tests.factories import envelope
from tests.stack import Stack, wait_until

ELECTION = "kz-2023-03-19"
RESULTS = Path(__file__).resolve().parent / "results"
BBOX = "68,40.5,80,46"
"""The south-east: about a fifth of the stations."""


def say(message: str) -> None:
    print(f"[bench map {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stations(n: int) -> list[dict[str, Any]]:
    rng, regions = random.Random(32), sorted(Calendars.load().get(ELECTION).regions)
    return [envelope("station.registered", {
        "number": i + 1, "address": f"School No. {i % 200 + 1}, {rng.randint(1, 300)} Abai St",
        "region": regions[i % len(regions)], "registered_voters": rng.randint(400, 3000),
        "lat": round(rng.uniform(41, 54), 5), "lon": round(rng.uniform(50, 85), 5)},
        station_id=f"PS-{i + 1:05d}", election_id=ELECTION,
        occurred_at="2023-03-10T10:00:00+06:00") for i in range(n)]


def reports(registered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [envelope("ballot.stuffing_observed", {"ballots": 20}, station_id=s["station_id"],
                     election_id=ELECTION, occurred_at="2023-03-19T11:00:00+06:00",
                     place={"region": s["payload"]["region"]}) for s in registered[::10]]


def post_all(stack: Stack, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 1000):
        reply = stack.post_batch(events[start:start + 1000])
        assert reply.status_code == 200, reply.text[:300]


def timed(client: httpx.Client, path: str, rounds: int, **params: str) -> dict[str, Any]:
    """p50/p95 of ``rounds`` requests, asked gzipped (as browsers ask) and not."""
    figures: dict[str, Any] = {}
    for encoding in ("gzip", "identity"):
        seconds, reply = [], None
        for _ in range(rounds):
            began = time.perf_counter()
            reply = client.get(path, params={"election_id": ELECTION, **params},
                               headers={"Accept-Encoding": encoding})
            seconds.append(time.perf_counter() - began)
            assert reply.status_code == 200, reply.text[:300]
        assert reply is not None
        ms = sorted(s * 1000 for s in seconds)
        figures["features"] = len(json.loads(reply.content)["features"])
        figures[encoding] = {"wire_bytes": int(reply.headers["content-length"]),
                             "json_bytes": len(reply.content),
                             "ms_p50": round(statistics.median(ms), 1),
                             "ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 1)}
    return figures


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--stations", type=int, default=10_000)
    args.add_argument("--rounds", type=int, default=20)
    opts = args.parse_args()
    stack = Stack(extra_env={**BENCH_ENV, "READ_CACHE_SECONDS": "0"}).start()
    try:
        registered = stations(opts.stations)
        say(f"registering {len(registered)} stations, reporting from {len(registered) // 10}")
        post_all(stack, registered)
        post_all(stack, reports(registered))
        with httpx.Client(base_url=stack.api_url, timeout=60,
                          headers={"Authorization": f"Bearer {stack.reader_key}"}) as client:
            wait_until(lambda: len(client.get("/v1/map/stations", params={
                "election_id": ELECTION}).json()["features"]) >= opts.stations, 300, 1)
            wait_until(lambda: client.get("/v1/stations", params={"limit": 1}).json()[
                "stations"], 120, 1)
            time.sleep(3)  # the reports' batches
            figures = {"stations_registered": opts.stations, "rounds": opts.rounds,
                       "map_stations": timed(client, "/v1/map/stations", opts.rounds),
                       "map_stations_bbox": timed(client, "/v1/map/stations", opts.rounds,
                                                  bbox=BBOX),
                       "map_regions": timed(client, "/v1/map/regions", opts.rounds)}
    finally:
        stack.stop()
    figures["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(json.dumps(figures, indent=1))
    RESULTS.mkdir(exist_ok=True)
    for name in (f"map_reads_{time.strftime('%Y%m%dT%H%M')}.json", "map_reads_latest.json"):
        (RESULTS / name).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
