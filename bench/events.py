"""Election-day traffic for the benchmark: a mix of station and place reports.

``log_records`` builds the stored records exactly as ingest does (validated envelope, wire
form, ``received_at``, ``partner``, ``content_hash``, hash chain per partition), so the raw
Kafka and PostgreSQL ceilings move the same bytes and rows as the pipeline.
"""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from saylau.catalogue import catalogue
from saylau.envelope import Envelope, canonical, content_hash, partition_key
from saylau.log.chain import ChainHead
from saylau.log.kafka import partition_for

STATIONS = 10_000
CITIES = [(f"Region-{r}", f"City-{r}-{c}") for r in range(17) for c in range(12)]
VOTING_DAY = datetime(2021, 1, 10, 1, 0, tzinfo=UTC)  # 07:00 in Almaty


def _station(rng: random.Random) -> dict[str, Any]:
    region, city = rng.choice(CITIES)
    return {"station_id": f"PS-{rng.randrange(STATIONS)}", "place": {"region": region,
                                                                     "city": city}}


def _payload(rng: random.Random, kind: int) -> tuple[str, dict[str, Any], bool]:
    """(type, payload, at a station?) for a draw from the day's mix."""
    if kind < 30:
        return "station.opened", {"commission_members_present": rng.randrange(5, 12)}, True
    if kind < 55:
        return "voter.turned_away", {"reason": "not_on_list", "count": 1}, True
    if kind < 75:
        return "observer.access_denied", {"observers": rng.randrange(1, 5),
                                          "organisation": "El Dauysy"}, True
    if kind < 90:
        return "ballot.stuffing_observed", {"ballots": rng.randrange(1, 60)}, True
    if kind < 96:
        return "detention.reported", {"count": rng.randrange(1, 6)}, False
    return "detention.released", {"count": rng.randrange(1, 3)}, False


def event(rng: random.Random) -> dict[str, Any]:
    """One valid envelope, as a partner would POST it."""
    type_, payload, at_station = _payload(rng, rng.randrange(100))
    where = _station(rng) if at_station else {"place": dict(zip(("region", "city"),
                                                                 rng.choice(CITIES)))}
    occurred = VOTING_DAY + timedelta(seconds=rng.randrange(14 * 3600))
    return {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": type_,
            "schema_version": 1, "occurred_at": occurred.isoformat(), "source": "bench",
            "payload": payload, **where}


def events(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [event(rng) for _ in range(n)]


def log_records(items: list[dict[str, Any]], partitions: int,
                partner: str = "bench") -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of each item as ingest would append it."""
    now = datetime.now(UTC).isoformat()
    heads: dict[int, ChainHead] = {}
    out = []
    for item in items:
        envelope = Envelope.model_validate(item)
        assert not catalogue().validate(envelope.type, 1, envelope.payload), item
        wire = envelope.wire()
        key = partition_key(envelope)
        partition = partition_for(key, partitions)
        record = {**wire, "received_at": now, "partner": partner,
                  "content_hash": content_hash(wire)}
        heads.setdefault(partition, ChainHead()).seal(record)
        out.append((partition, key.encode(), canonical(record)))
    return out
