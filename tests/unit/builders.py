"""Plain builders for unit tests: envelopes and calendars without I/O beyond the repo files."""
from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from saylau.domain.calendar import Calendars
from saylau.envelope import Envelope

ASTANA = {"region": "Astana", "city": "Astana"}
ORAL = {"region": "West Kazakhstan", "city": "Oral"}
PETROPAVLOVSK = {"region": "North Kazakhstan", "city": "Petropavlovsk"}


@lru_cache(maxsize=1)
def calendars() -> Calendars:
    return Calendars.load()


def event(type_name: str, occurred_at: str, payload: dict[str, Any], *,
          place: dict[str, str] | None = None, station_id: str | None = None,
          election_id: str | None = None, version: int = 1, key: str = "") -> Envelope:
    """An envelope whose event_id is derived from its content, so tests are repeatable."""
    event_id = uuid5(NAMESPACE_URL, f"test|{type_name}|{occurred_at}|{key}")
    return Envelope.model_validate({
        "event_id": event_id, "type": type_name, "schema_version": version,
        "occurred_at": occurred_at, "source": "unit-test", "station_id": station_id,
        "election_id": election_id, "place": place, "payload": payload})
