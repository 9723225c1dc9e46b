"""Election calendars: one YAML file per election under ``elections/``.

Every boundary in a file is local wall-clock time (no UTC offset), because the law sets
them so ("until 24:00", "07:00 to 20:00 local time"). An event's time is converted to the
zone of the region it happened in before it is compared, so a 07:00 opening means 07:00 in
Oral (UTC+5) and 07:00 in Petropavlovsk (UTC+6) alike.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from saylau.domain.regions import alias_index, canonical_region, spelling
from saylau.envelope import Envelope

ELECTIONS_DIR = Path(__file__).resolve().parents[2] / "elections"
STATIONS_CLOSE = time(20, 0)
"""When polling stations close unless an election's calendar says otherwise (07:00-20:00)."""


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message names the file and the field."""


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


IanaZone = Annotated[str, AfterValidator(_zone)]


class Election(BaseModel):
    """One election's calendar; all datetimes are naive local wall-clock times."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    name: str = Field(min_length=1, max_length=300)
    timezone: IanaZone
    timezones: dict[str, IanaZone] = Field(default_factory=dict)
    announced: datetime
    campaign_start: datetime
    campaign_end: datetime
    silence_start: datetime
    silence_end: datetime
    poll_blackout_start: datetime
    poll_blackout_end: datetime
    deregistration_closed_from: datetime
    voting_day: date
    commission_starts: time = time(6, 0)
    stations_open: time = time(7, 0)
    stations_close: time = STATIONS_CLOSE
    observation_ends: datetime
    window_end: datetime
    regions: dict[str, list[str]] = Field(default_factory=dict)
    """The regions as this election named them (canonical name → other spellings)."""
    sources: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("*", mode="after")
    @classmethod
    def _wall_clock(cls, value: Any) -> Any:
        if isinstance(value, datetime | time) and value.tzinfo is not None:
            raise ValueError("write local wall-clock time without a UTC offset")
        return value

    @model_validator(mode="after")
    def _in_order(self) -> Election:
        for earlier, later in _ORDER:
            if getattr(self, earlier) > getattr(self, later):
                raise ValueError(f"{later} must not be before {earlier}")
        if not self.silence_start <= self.voting_opens < self.silence_end:
            raise ValueError("voting_day must fall inside silence_start..silence_end")
        alias_index(self.regions)  # one spelling, one region
        return self

    @property
    def voting_opens(self) -> datetime:
        return datetime.combine(self.voting_day, self.stations_open)

    @property
    def observers_admitted_from(self) -> datetime:
        """When the precinct commission starts work and observers may enter (06:00 by default)."""
        return datetime.combine(self.voting_day, self.commission_starts)

    @property
    def final_count_hour(self) -> int:
        """See ``final_count_hour``."""
        return final_count_hour(self.stations_close)

    def zone(self, region: str | None) -> ZoneInfo:
        """The time zone of ``region`` in this election, else the election's default."""
        wanted = (region or "").casefold()
        for name, zone in self.timezones.items():
            if name.casefold() == wanted:
                return ZoneInfo(zone)
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime, region: str | None = None) -> datetime:
        """``moment`` as naive wall-clock time where it happened, comparable with the calendar."""
        return moment.astimezone(self.zone(region)).replace(tzinfo=None)

    def in_window(self, moment: datetime) -> bool:
        """From the announcement until some days after voting: the events this election owns."""
        start, end = self._window
        return start <= moment < end

    @cached_property
    def _window(self) -> tuple[datetime, datetime]:
        """``announced`` and ``window_end`` as instants (read for every event: compared as
        instants, not converted to wall-clock time each time)."""
        zone = self.zone(None)
        return (self.announced.replace(tzinfo=zone), self.window_end.replace(tzinfo=zone))


_ORDER = (
    ("announced", "campaign_start"), ("campaign_start", "campaign_end"),
    ("campaign_end", "silence_start"), ("silence_start", "silence_end"),
    ("poll_blackout_start", "poll_blackout_end"), ("campaign_start", "poll_blackout_start"),
    ("campaign_start", "deregistration_closed_from"),
    ("deregistration_closed_from", "silence_end"), ("commission_starts", "stations_open"),
    ("stations_open", "stations_close"), ("silence_end", "observation_ends"),
    ("observation_ends", "window_end"),
)


def final_count_hour(stations_close: time) -> int:
    """The first whole hour at or after the stations close: a turnout count for that hour (or
    a later one) is the day's final figure; an earlier one is a count of the day so far."""
    return stations_close.hour + (stations_close != time(stations_close.hour))


def _error_text(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in err["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return f"{path.name}: " + "; ".join(problems)


def load_election(path: Path) -> Election:
    """Parse and validate one calendar file; the id must match the file name."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise CalendarError(f"{path.name}: (election): expected a mapping of fields")
    try:
        election = Election.model_validate(data)
    except ValidationError as exc:
        raise CalendarError(_error_text(path, exc)) from None
    if election.id != path.stem:
        raise CalendarError(f"{path.name}: id: {election.id!r} does not match the file name")
    return election


PAYLOAD_REGIONS = frozenset({"station.registered", "official.results_announced"})
"""Types whose payload names a region (a sample's strata keep the names it was drawn with)."""
SEEN_SPELLINGS = 10_000
"""How many distinct (election, region spelling) answers a process remembers."""


@dataclass(frozen=True)
class Calendars:
    """All known elections, by id. Adding an election is adding a file."""

    elections: Mapping[str, Election] = field(default_factory=dict)
    _indexes: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)
    _seen: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, directory: Path = ELECTIONS_DIR) -> Calendars:
        """Every ``*.yaml`` in ``directory``; raises CalendarError naming file and field."""
        elections = [load_election(path) for path in sorted(Path(directory).glob("*.yaml"))]
        return cls({election.id: election for election in elections})

    def get(self, election_id: str) -> Election | None:
        return self.elections.get(election_id)

    def named(self, event: Envelope) -> Envelope:
        """``event`` with its region names (the place's, and a registry or official figure's
        payload ``region``) as its election named them; the same event when nothing changes."""
        place = event.place
        if (place is None or not place.region or place.region in self._settled) \
                and event.type not in PAYLOAD_REGIONS:
            return event
        election = self.for_event(event.election_id, event.occurred_at)
        if election is None or not election.regions:
            return event
        update: dict[str, Any] = {}
        if place is not None and place.region and \
                (region := self.region(election, place.region)) != place.region:
            update["place"] = place.model_copy(update={"region": region})
        named = event.payload.get("region") if event.type in PAYLOAD_REGIONS else None
        if isinstance(named, str) and (region := self.region(election, named)) != named:
            update["payload"] = {**event.payload, "region": region}
        return event.model_copy(update=update) if update else event

    @cached_property
    def _settled(self) -> frozenset[str]:
        """Names every election keeps as they are ("Almaty", "Karaganda"): an event naming
        one needs no election looked up (most events; the projector decodes every one)."""
        names = {n for e in self.elections.values() for n in e.regions}
        return frozenset(n for n in names
                         if all(self.region(e, n) == n for e in self.elections.values()))

    def region(self, election: Election | None, name: str) -> str:
        """``name`` as ``election`` named that region (``saylau.domain.regions``)."""
        if election is None or not election.regions:
            return name
        found = self._seen.get((election.id, name))
        if found is None:
            found = canonical_region(self._index(election), name)
            if len(self._seen) < SEEN_SPELLINGS:  # bounded: report text is free
                self._seen[(election.id, name)] = found
        return found

    def region_asked(self, name: str, at: datetime) -> str:
        """A region as a reader names it (a path, a filter): canonical as the election running
        at ``at`` names it, else the latest-announced election listing the spelling; as
        given when none lists it ("Turkestan" and "Turkistan" ask for one region)."""
        ranked = sorted(self.elections.values(),
                        key=lambda e: (e.in_window(at), e.announced), reverse=True)
        listing = (e for e in ranked if e.regions and spelling(name) in self._index(e))
        return next((self.region(e, name) for e in listing), name.strip())

    def _index(self, election: Election) -> dict[str, str]:
        index = self._indexes.get(election.id)
        if index is None:
            index = self._indexes[election.id] = alias_index(election.regions)
        return index

    def for_event(self, election_id: str | None, occurred_at: datetime) -> Election | None:
        """The named election, else the latest-announced one whose window holds ``occurred_at``."""
        if election_id is not None:
            return self.get(election_id)
        owners = [e for e in self.elections.values() if e.in_window(occurred_at)]
        return max(owners, key=lambda e: e.announced, default=None)

    def final_count_hour(self, election_id: str) -> int:
        """The hour of the final turnout count of ``election_id`` (``final_count_hour``): by
        its calendar, else by the usual closing time when it has none."""
        election = self.get(election_id)
        return election.final_count_hour if election else final_count_hour(STATIONS_CLOSE)

    def election_of(self, election_id: str | None, occurred_at: datetime) -> str | None:
        """The id of the election an event belongs to: the one its envelope names (known here
        or not), else the latest-announced one whose window holds ``occurred_at``; None when
        neither. A second round or another election at the same stations is kept apart."""
        if election_id is not None:
            return election_id
        owner = self.for_event(None, occurred_at)
        return owner.id if owner else None
