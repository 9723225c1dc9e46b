"""What every read model is made of, and the batch it folds.

A read model is one module of ``saylau.readmodels`` that defines ``READ_MODEL``: its tables
(on the one shared ``MetaData``), a pure ``fold`` of a ``Batch`` into its rows, an async
``write`` of those rows inside the batch transaction, and the queries the api calls.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Table

from saylau.domain.breach import Breach, RuleConfig
from saylau.domain.calendar import Calendars
from saylau.envelope import Envelope
from saylau.log.decode import Decoded

Change = dict[str, Any]
"""A change-feed entry: ``{"kind", "region", "station_id", "data"}``."""


@dataclass(frozen=True)
class Whereabouts:
    """Where an event belongs: a region (canonical) and a station, either unknown (None)."""

    region: str | None = None
    station_id: str | None = None


NOWHERE = Whereabouts()


@dataclass(frozen=True)
class Action:
    """An operator's claim, escalation or comment: the event, the partner whose key or
    account posted it and ``actor``, who did it (the account's login or the key's partner,
    stamped by ingest; None in records appended before ingest stamped it)."""

    event: Envelope
    partner: str | None
    actor: str | None


@dataclass(frozen=True)
class Counted:
    """An event counted once (``sign`` +1) or taken back (-1, its report was withdrawn), with
    what it counts as at its station (``kinds``: itself if an incident, or its checklist's
    violations); ``withdrawn_at``: when the report taken back was retracted or rejected."""

    event: Envelope
    sign: int
    kinds: tuple[str, ...]
    withdrawn_at: datetime | None = None


@dataclass
class Batch:
    """What one batch of new events means, decided before anything is written. Pure data."""

    applied: list[Decoded] = field(default_factory=list)
    """The new events, in log order, each stored once."""
    counted: list[Counted] = field(default_factory=list)
    statuses: dict[uuid.UUID, str] = field(default_factory=dict)
    """Earlier reports the batch verified, rejected or retracted, and their new status."""
    actions: list[Action] = field(default_factory=list)
    """Operators' claims, escalations and comments, with who posted them."""
    found: list[Breach] = field(default_factory=list)
    """Breaches the rules found in the new events."""
    urgent: list[Change] = field(default_factory=list)
    """Escalations, pushed on the change feed in the batch that made them."""
    calendars: Calendars = field(default_factory=Calendars)
    """The election calendars the batch was planned with: which election an event belongs
    to, when its stations close."""
    about: dict[uuid.UUID, Whereabouts] = field(default_factory=dict)
    """Where each new event with no place of its own happened, when it points at a report
    (a triage action or report, evidence, a message's first report): that report's region
    and station (``saylau.readmodels.batch.pointed_at``)."""

    by_registry: set[uuid.UUID] = field(default_factory=set)
    """The new events whose station had a registry entry when they came: their region is
    that entry's (``saylau.readmodels.placing``), which a station's row takes over the
    region its earlier, unregistered reports named."""

    def region_of(self, event: Envelope) -> str | None:
        """The region an event belongs to: its own place's (for an event at a station, as
        placed by its station's registry entry: ``saylau.readmodels.placing``), else what it
        points at's; None only for events with no place at all (national)."""
        return event.region or self.about.get(event.event_id, NOWHERE).region

    def station_of(self, event: Envelope) -> str | None:
        """The event's own station, else the station of the report it points at."""
        return event.station_id or self.about.get(event.event_id, NOWHERE).station_id


Fold = Callable[[Batch, RuleConfig], Any]
Write = Callable[[asyncpg.Connection, Any, RuleConfig], Awaitable[list[Change]]]


async def _nothing(conn: asyncpg.Connection, rows: Any, config: RuleConfig) -> list[Change]:
    return []


def _no_rows(batch: Batch, config: RuleConfig) -> None:
    return None


@dataclass(frozen=True)
class ReadModel:
    """One read model: its tables, its pure fold and its batch write.

    ``write(conn, fold(batch, config), config)`` runs inside the batch transaction with the
    read schema on the ``search_path`` and returns the change-feed entries of what it changed.
    ``audited``: whether ``saylau compare`` checks its tables (a projection of the log) or not
    (delivery bookkeeping: offsets, dead letters, the change feed). A read model made of
    queries over other read models has no tables and the default fold and write.
    ``after``: the read models whose rows ``write`` reads in the same transaction, so the
    registry must write them first (``in_write_order`` checks it).
    """

    name: str
    tables: tuple[Table, ...] = ()
    fold: Fold = _no_rows
    write: Write = _nothing
    audited: bool = True
    after: tuple[str, ...] = ()


class RegistryOrderError(ValueError):
    """The registry writes a read model before one whose rows it reads."""


def in_write_order(*models: ReadModel) -> tuple[ReadModel, ...]:
    """``models`` as given, once every ``after`` a model declares is written before it."""
    position = {m.name: i for i, m in enumerate(models)}
    for i, model in enumerate(models):
        for name in model.after:
            if name not in position:
                raise RegistryOrderError(f"{model.name} reads {name}, which is not registered")
            if position[name] >= i:
                raise RegistryOrderError(f"{model.name} reads {name}'s rows in the same "
                                         f"transaction: list {name} before {model.name}")
    return models


def columns(rows: list[tuple[Any, ...]], width: int = 0) -> list[list[Any]]:
    """Rows as one list per column, for ``unnest`` bind parameters (``width`` empty lists
    when there are no rows, for a statement that takes them all the same)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(c) for c in zip(*rows)]
