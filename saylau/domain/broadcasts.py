"""Messages from the centre to its observers: whom a broadcast may address. Pure.

A coordinator writes to the observers of her regions only; an admin (a national principal
with the ``broadcast`` scope) to any. A broadcast names regions (any spelling an election
file lists, kept as its canonical name), stations, or neither: then it goes to all of the
sender's regions (the whole country for a national sender). Its observers are those
accredited or assigned to an addressed station or to a station of an addressed region
(``saylau.readmodels.broadcasts``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from saylau.domain.calendar import Calendars
from saylau.domain.roles import Reach


@dataclass(frozen=True)
class Addressed:
    """Whom a broadcast goes to: canonical regions and station ids (both empty: the whole
    country)."""

    regions: tuple[str, ...] = ()
    station_ids: tuple[str, ...] = ()

    @property
    def national(self) -> bool:
        return not self.regions and not self.station_ids


@dataclass(frozen=True)
class NotAddressable:
    """Why a broadcast cannot go where it was addressed: the answer's status (422: no such
    region or station; 403: not the sender's) and the body field it names."""

    status: int
    field: str
    msg: str


def canonical_regions(names: Iterable[str], calendars: Calendars, now: datetime
                      ) -> tuple[list[str], list[str]]:
    """``names`` as the election files name them (``Calendars.region_asked``: the election
    running at ``now`` first, then the latest announced), and the names no election lists."""
    listed = {r for e in calendars.elections.values() for r in e.regions}
    found: list[str] = []
    unknown: list[str] = []
    for name in names:
        canonical = calendars.region_asked(name, now)
        if canonical not in listed:
            unknown.append(name)
        elif canonical not in found:
            found.append(canonical)
    return found, unknown


def address(reach: Reach, regions: Sequence[str], station_regions: Mapping[str, str | None],
            stations: Sequence[str]) -> Addressed | NotAddressable:
    """Where a sender bound to ``reach`` may send: ``regions`` canonical, ``stations`` with
    their registered region in ``station_regions`` (absent: not registered)."""
    unregistered = [s for s in stations if s not in station_regions]
    if unregistered:
        return NotAddressable(422, "station_ids", "not in the station registry: "
                                                  + ", ".join(unregistered))
    if reach.regions is not None:
        refused = refusal(reach.regions, regions, station_regions, stations)
        if refused is not None:
            return refused
        if not regions and not stations:
            return Addressed(tuple(sorted(reach.regions)))
    return Addressed(tuple(sorted(regions)), tuple(sorted(set(stations))))


def refusal(mine: frozenset[str], regions: Sequence[str],
            station_regions: Mapping[str, str | None], stations: Sequence[str]
            ) -> NotAddressable | None:
    """A regional sender's 403, naming the field that leaves her regions."""
    outside = [r for r in regions if r not in mine]
    if outside:
        return NotAddressable(403, "regions", f"not one of your regions ({', '.join(sorted(mine))})"
                                              f": {', '.join(outside)}")
    elsewhere = [s for s in stations if station_regions.get(s) not in mine]
    if elsewhere:
        return NotAddressable(403, "station_ids", "stations outside your regions "
                                                  f"({', '.join(sorted(mine))}): "
                                                  + ", ".join(elsewhere))
    return None


def only_region(addressed: Addressed, station_regions: Mapping[str, str | None]) -> str | None:
    """The one region everything addressed lies in (the event's place, so it is keyed and
    seen by region), else None (several regions, or the whole country)."""
    found = {*addressed.regions, *(station_regions.get(s) for s in addressed.station_ids)}
    return next(iter(found)) if len(found) == 1 and None not in found else None
