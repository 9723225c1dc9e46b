"""Where a batch's events are, as the projection stores them: a station's events in its
registry region. Pure.

The region of an event at a polling station is its station's registry entry as the log held
it when the event came, else the event's own place (``saylau.domain.regions.station_region``).
A ``station.registered`` and every report at its station carry the station id, which is their
Kafka key (``saylau.envelope.partition_key``): they share a partition and its order, so the
registrations before a report are the same live and in replay, whatever the batches. The
registry is last-writer-wins by stamp (``saylau.readmodels.registry``), and so is this walk:
the region seen is the one the registry table would hold after the same events.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from saylau.domain.regions import station_region
from saylau.domain.vocabulary import STATION_REGISTERED
from saylau.envelope import Envelope, Place
from saylau.log.decode import Decoded
from saylau.readmodels.registry import stamp

Registered = dict[str, tuple[str, str | None]]
"""station_id → (stamp, region) of its registry entry (``station_registry.details_stamp``)."""


def placed(event: Envelope, region: str | None) -> Envelope:
    """``event`` with its place's region set to ``region`` (its city kept); the same event
    when that changes nothing. The log keeps what was sent; this is the decoded view."""
    if not region or region == event.region:
        return event
    place = (event.place.model_copy(update={"region": region}) if event.place
             else Place.model_construct(region=region, city=None))
    return event.model_copy(update={"place": place})


@dataclass
class StationRegions:
    """The registry's region of each station, as of the event being placed: what the table
    held when the batch began (``registered``), then the batch's own registrations in log
    order."""

    registered: Registered = field(default_factory=dict)
    by_registry: set[uuid.UUID] = field(default_factory=set)
    """The events placed so far whose station had a registry entry (``Batch.by_registry``)."""

    def register(self, event: Envelope) -> None:
        """Take a ``station.registered`` into the registry, if later than what it holds."""
        if event.type != STATION_REGISTERED or not event.station_id:
            return
        entry = (stamp(event), event.payload.get("region"))
        if entry[0] > self.registered.get(event.station_id, ("", None))[0]:
            self.registered[event.station_id] = entry

    def place(self, item: Decoded) -> Decoded:
        """``item`` (registered first if it registers its station) in its region."""
        event = item.event
        if not event.station_id:
            return item
        self.register(event)
        registered = self.registered.get(event.station_id, ("", None))[1]
        if registered:
            self.by_registry.add(event.event_id)
        region = station_region(registered, event.region)
        return item if region == event.region else Decoded(item.message, item.record,
                                                            placed(event, region))
