"""``saylau quickcount draw | verify-sample``: draw the quick-count sample, and prove it.

``draw`` asks the ingest service to draw (``POST /v1/quickcount/samples``, admin key).
``verify-sample SAMPLE_ID`` reads the log (Kafka, or a ``saylau export`` file), rebuilds the
station registry as the log held it when the sample was appended (the ``station.registered``
events before the sample's record: earlier offsets in its partition, and in the other
partitions those ingest received no later than it), re-draws with the recorded seed, and
compares: exit 0 if the frame hash and every station match, 1 otherwise (or if the sample is
not in the log).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from saylau.cli.status import DIFFERENT, OK, USAGE, fail
from saylau.domain.quickcount import FrameStation, Sample, verify_sample
from saylau.domain.vocabulary import SAMPLE_DRAWN, STATION_REGISTERED
from saylau.settings import settings


def register(sub: Any) -> None:
    p = sub.add_parser("quickcount", help="quick count: draw and verify the station sample")
    actions = p.add_subparsers(dest="action", required=True)
    draw = actions.add_parser("draw", help="draw the sample through the ingest service")
    draw.add_argument("--ingest", default=None,
                      help="the ingest service (default: http://INGEST_HOST:INGEST_PORT)")
    draw.add_argument("--key", required=True, help="an API key with the admin scope")
    draw.add_argument("--election-id", required=True)
    draw.add_argument("--size", type=int, required=True, help="stations to draw")
    draw.add_argument("--seed", type=int, required=True,
                      help="the public seed, announced before the draw")
    draw.add_argument("--replace", action="store_true",
                      help="draw again although the election has a sample")
    draw.set_defaults(run=run_draw)
    verify = actions.add_parser("verify-sample", help="re-draw a sample from the log and compare",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("sample_id")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--topic", default=None, help="events topic (default: EVENTS_TOPIC)")
    source.add_argument("--from-export", type=Path, metavar="FILE.ndjson",
                        help="read an NDJSON file written by 'saylau export' instead of Kafka")
    verify.set_defaults(run=run_verify)


async def run_draw(args: argparse.Namespace) -> int:
    body = {"election_id": args.election_id, "size": args.size, "seed": args.seed,
            "replace": args.replace}
    async with httpx.AsyncClient(base_url=args.ingest or settings().ingest_url, timeout=60,
                                 headers={"Authorization": f"Bearer {args.key}"}) as client:
        reply = await client.post("/v1/quickcount/samples", json=body)
    if reply.status_code != 201:
        return fail(f"ingest answered {reply.status_code}: {reply.text}",
                    USAGE if reply.is_client_error else DIFFERENT)
    print(json.dumps(reply.json(), indent=2, ensure_ascii=False))
    return OK


@dataclass(frozen=True)
class Logged:
    """A record of the log: where it is, when ingest received it, and its envelope."""

    partition: int
    offset: int
    received_at: datetime
    record: dict[str, Any]


def logged(partition: int, offset: int, value: bytes) -> Logged | None:
    """A record of interest to the quick count (a registration or a sample), else None."""
    record = orjson.loads(value)
    if not isinstance(record, dict) or record.get("type") not in (STATION_REGISTERED,
                                                                   SAMPLE_DRAWN):
        return None
    return Logged(partition, offset, _time(record["received_at"]), record)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _stamp(record: dict[str, Any]) -> str:
    """The registry's last-writer-wins order: occurred_at in UTC, then event id."""
    moment = _time(record["occurred_at"]).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{moment}|{record['event_id']}"


def registry_before(records: Iterable[Logged], drawn: Logged) -> list[FrameStation]:
    """The station registry the log held before ``drawn``: each station's latest
    ``station.registered`` (by occurred_at, then event id, as the read model takes it) among
    the records before it in its partition or received no later than it elsewhere. Pure."""
    latest: dict[str, tuple[str, FrameStation]] = {}
    for r in records:
        before = (r.offset < drawn.offset if r.partition == drawn.partition
                  else r.received_at <= drawn.received_at)
        if r.record.get("type") != STATION_REGISTERED or not before:
            continue
        payload, station_id = r.record["payload"], r.record.get("station_id")
        if not station_id:
            continue
        row = (_stamp(r.record), FrameStation(station_id, payload["region"],
                                              payload["registered_voters"]))
        if station_id not in latest or row[0] > latest[station_id][0]:
            latest[station_id] = row
    return [station for _, station in latest.values()]


async def run_verify(args: argparse.Namespace) -> int:
    from saylau.cli.audit import open_log
    records: list[Logged] = []
    try:
        async with open_log(args) as log:
            async for chunk in log.chunks(5000):
                records += [r for m in chunk
                            if (r := logged(m.partition, m.offset, m.value)) is not None]
    except (LookupError, ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    drawn = next((r for r in records if r.record["type"] == SAMPLE_DRAWN
                  and r.record["payload"].get("sample_id") == args.sample_id), None)
    if drawn is None:
        return fail(f"no sample.drawn with sample_id {args.sample_id!r} in the log", DIFFERENT)
    sample = Sample.from_payload(drawn.record["payload"])
    frame = registry_before(records, drawn)
    check = verify_sample(frame, sample)
    print(json.dumps({"sample_id": sample.sample_id, "election_id": sample.election_id,
                      "seed": sample.seed, "frame_stations": len(frame),
                      "record": {"partition": drawn.partition, "offset": drawn.offset},
                      **asdict(check)}, indent=2, ensure_ascii=False))
    print("sample verified: the seed and the registry give exactly these stations"
          if check.ok else "SAMPLE DIFFERS from the re-draw", file=sys.stderr)
    return 0 if check.ok else 1
