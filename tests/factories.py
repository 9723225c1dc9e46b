"""Event builders for tests: valid envelopes with fresh ids, overridable field by field."""
from __future__ import annotations

import uuid
from typing import Any

VOTING_DAY_2021 = "2021-01-10T11:20:00+06:00"


def envelope(type_: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": str(uuid.uuid4()), "type": type_, "schema_version": 1,
                             "occurred_at": VOTING_DAY_2021, "source": "test-hotline",
                             "payload": payload}
    event.update(fields)
    return event


def detention(city: str, count: int, region: str = "Almaty", **fields: Any) -> dict[str, Any]:
    return envelope("detention.reported", {"count": count},
                    place={"region": region, "city": city}, **fields)


def release(city: str, count: int, region: str = "Almaty", **fields: Any) -> dict[str, Any]:
    return envelope("detention.released", {"count": count},
                    place={"region": region, "city": city}, **fields)


def access_denied(station_id: str, observers: int = 4, **fields: Any) -> dict[str, Any]:
    fields.setdefault("place", {"region": "North Kazakhstan", "city": "Petropavlovsk"})
    return envelope("observer.access_denied",
                    {"observers": observers, "organisation": "El Dauysy"},
                    station_id=station_id, **fields)


def stuffing(station_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("place", {"region": "West Kazakhstan", "city": "Chingirlau"})
    return envelope("ballot.stuffing_observed", {"ballots": 30}, station_id=station_id, **fields)


def unique(prefix: str = "city") -> str:
    """A place or station name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
