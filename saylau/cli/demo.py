"""``saylau demo``: feed a seed scenario over HTTP, then keep a gentle live stream going."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from saylau.cli import demo_quickcount as qc
from saylau.settings import settings

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CITIES = [("Almaty", "Almaty"), ("Nur-Sultan", "Nur-Sultan"), ("North Kazakhstan", "Petropavlovsk"),
          ("West Kazakhstan", "Oral"), ("Aktobe", "Aktobe"), ("Shymkent", "Shymkent")]
STATION_PAYLOADS: dict[str, Any] = {
    "observer.access_denied": lambda rng: {"observers": rng.randint(1, 4)},
    "ballot.stuffing_observed": lambda rng: {"ballots": rng.randint(5, 60)},
    "unauthorised_person.present": lambda rng: {"persons": rng.randint(1, 3)},
    "photo_video.prohibited": lambda rng: {"person_role": "observer"},
}


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="post a seed scenario to the ingest service")
    p.add_argument("--ingest", default=None,
                   help="the ingest service (default: http://INGEST_HOST:INGEST_PORT)")
    p.add_argument("--key", required=True, help="an API key with the ingest scope")
    p.add_argument("--scenario", default=str(SCENARIOS / "kz-2021-01-10.json"))
    p.add_argument("--pace", type=float, default=0.3, help="seconds between scenario events")
    p.add_argument("--follow", action="store_true",
                   help="after the scenario, keep posting synthetic reports (Ctrl-C stops)")
    p.add_argument("--no-quickcount", dest="quickcount", action="store_false",
                   help="skip the quick count (needs a key with the admin scope to draw)")
    p.set_defaults(run=run_demo)


def load_scenario(path: str | Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(Path(path).read_text())["events"]
    return events


def synthetic_report(rng: random.Random, now: datetime) -> dict[str, Any]:
    """A plausible election-day report, for keeping the demo dashboard moving."""
    region, city = rng.choice(CITIES)
    base = {"event_id": str(uuid.uuid4()), "schema_version": 1, "source": "demo-feed",
            "occurred_at": now.isoformat(), "place": {"region": region, "city": city}}
    if rng.random() < 0.4:
        return {**base, "type": "detention.reported", "payload": {"count": rng.randint(1, 6)}}
    kind = rng.choice(sorted(STATION_PAYLOADS))
    return {**base, "type": kind, "station_id": f"PS-{rng.randint(1, 60):03d}",
            "payload": STATION_PAYLOADS[kind](rng)}


async def run_demo(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {args.key}"}
    async with httpx.AsyncClient(base_url=args.ingest or settings().ingest_url, headers=headers,
                                 timeout=30) as client:
        for event in load_scenario(args.scenario):
            reply = await client.post("/v1/events", json=event)
            print(f"{reply.status_code} {event['type']:<32} {event.get('station_id') or ''}")
            await asyncio.sleep(args.pace)
        if args.quickcount:
            await quick_count(client, args.pace)
        await accredit_demo_observer(client)
        rng = random.Random(2021)
        clock = datetime(2021, 1, 10, 12, 0, tzinfo=timezone(timedelta(hours=6)))
        while args.follow:
            clock += timedelta(minutes=1)
            await client.post("/v1/events", json=synthetic_report(rng, clock))
            await asyncio.sleep(1.0)
    return 0


DEMO_OBSERVER = {"observer_id": "ED-0412", "organisation": "El Dauysy (demo)",
                 "name": "Demo Observer", "station_id": "QC-01-001"}
"""An observer a new user can issue a PIN to and sign in as (``saylau observers issue-pin
ED-0412``, then http://127.0.0.1:8080/observe/)."""


DEMO_ACCREDITATION = "6f1d9a52-0d2e-4b8a-9c41-5a0e2d7c0412"
"""Its event id: the same each run, so a second ``make up`` is answered ``duplicate``."""


async def accredit_demo_observer(client: httpx.AsyncClient) -> None:
    """Accredit the demo observer for the demo's election (the same id each run: a re-run is
    answered ``duplicate``)."""
    event = {"event_id": DEMO_ACCREDITATION, "type": "observer.accredited",
             "schema_version": 1, "occurred_at": "2021-01-08T09:00:00+06:00",
             "source": "demo", "station_id": DEMO_OBSERVER["station_id"],
             "election_id": qc.ELECTION, "payload": DEMO_OBSERVER}
    reply = await client.post("/v1/events", json=event)
    print(f"{reply.status_code} observer.accredited         {DEMO_OBSERVER['observer_id']}")


async def quick_count(client: httpx.AsyncClient, pace: float) -> None:
    """Register the synthetic stations, draw the sample (seed 20210110), report from the
    sampled stations ten at a time, then post the CEC's 63.3 % announcement."""
    registered = qc.stations()
    reply = await client.post("/v1/events:batch", json=registered)
    print(f"{reply.status_code} station.registered x{len(registered)}")
    by_id = {e["station_id"]: e for e in registered}
    sample: dict[str, Any] = {}
    for attempt in range(30):  # the draw reads the registry once the projector has it
        await asyncio.sleep(2)
        reply = await client.post("/v1/quickcount/samples", json={
            "election_id": qc.ELECTION, "size": qc.SIZE, "seed": qc.SEED, "replace": True})
        if reply.status_code != 201:
            print(f"{reply.status_code} quickcount draw: {reply.text}")
            if reply.status_code in (401, 403):
                return
            continue
        sample = reply.json()
        if sum(s["frame"] for s in sample["strata"]) >= len(by_id) or attempt == 29:
            break
    if not sample:
        return
    print(f"201 sample.drawn {sample['sample_id']} ({len(sample['stations'])} stations)")
    sampled = [by_id[s] for s in sample["stations"] if s in by_id]
    for group in qc.chunks(sampled, 10):
        events = [e for station in group for e in qc.station_reports(station)]
        reply = await client.post("/v1/events:batch", json=events)
        print(f"{reply.status_code} quick-count reports from {len(group)} sampled stations")
        await asyncio.sleep(pace * 5)
    reply = await client.post("/v1/events", json=qc.announcement())
    print(f"{reply.status_code} official.results_announced 63.3 %")
