"""Intake channels: turn a coded SMS, a messenger update or a partner's file into envelopes.

Pure: no I/O, time passed in. Every envelope made here still goes through the same
validation and append path as the JSON API (``saylau.intake.service.Intake.submit``).
Event ids derive from the gateway's message id (uuid5), so a gateway retry is a duplicate.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from saylau.domain.calendar import Election

CHANNELS_NAMESPACE = uuid.UUID("5b0f3c52-61f4-5d0e-9a43-6a1d3f1b2c70")
MESSAGE_TYPE = "message.received"

CITIES: Mapping[str, tuple[str, str]] = {
    name.casefold(): (city, region) for name, city, region in (
        ("Almaty", "Almaty", "Almaty"), ("Astana", "Astana", "Astana"),
        ("Nur-Sultan", "Nur-Sultan", "Nur-Sultan"), ("Shymkent", "Shymkent", "Shymkent"),
        ("Aktau", "Aktau", "Mangystau"), ("Aktobe", "Aktobe", "Aktobe"),
        ("Atyrau", "Atyrau", "Atyrau"), ("Karaganda", "Karaganda", "Karaganda"),
        ("Kokshetau", "Kokshetau", "Akmola"), ("Kostanay", "Kostanay", "Kostanay"),
        ("Kyzylorda", "Kyzylorda", "Kyzylorda"), ("Oral", "Oral", "West Kazakhstan"),
        ("Uralsk", "Oral", "West Kazakhstan"), ("Pavlodar", "Pavlodar", "Pavlodar"),
        ("Petropavlovsk", "Petropavlovsk", "North Kazakhstan"),
        ("Taraz", "Taraz", "Zhambyl"), ("Turkestan", "Turkestan", "Turkestan"),
        ("Oskemen", "Oskemen", "East Kazakhstan"),
        ("Ust-Kamenogorsk", "Oskemen", "East Kazakhstan"))}
"""Cities a coded report may name alone (``DET Almaty 30``), with their region.

Regional centres and the cities of republican significance; any other place is written
``city/region`` (``DET Chingirlau/West Kazakhstan 3``)."""


@dataclass(frozen=True)
class Inbound:
    """One message as a gateway delivered it."""

    channel: str
    gateway: str
    message_id: str
    sender: str
    text: str
    received_at: datetime


@dataclass(frozen=True)
class Context:
    """What the gateway (or the sender's number) is configured with, for reading codes.

    ``election`` gives the date of ``@HHMM`` times and the zone of each region;
    ``stations`` maps a station id to its (region, city) where known.
    """

    election: Election | None = None
    source: str = "sms"
    region: str | None = None
    default_zone: str = "Asia/Almaty"
    stations: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    cities: Mapping[str, tuple[str, str]] = field(default_factory=lambda: CITIES)


@dataclass(frozen=True)
class Made:
    """What a message became: envelopes to submit, and the text to send back."""

    events: list[dict[str, Any]]
    reply: str
    error: bool = False


def message_event_id(inbound: Inbound) -> uuid.UUID:
    """Same gateway + same message id → same id, whatever the content or arrival time."""
    return uuid.uuid5(CHANNELS_NAMESPACE,
                      f"{inbound.channel}|{inbound.gateway}|{inbound.message_id}")


def derived_event_id(inbound: Inbound, index: int) -> uuid.UUID:
    """The id of the ``index``-th report written in the message."""
    return uuid.uuid5(message_event_id(inbound), str(index))


def message_event(inbound: Inbound, made: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """The raw message as an event, located where the first report it made is."""
    first = made[0]
    event: dict[str, Any] = {
        "event_id": str(message_event_id(inbound)), "type": MESSAGE_TYPE,
        "schema_version": 1, "occurred_at": inbound.received_at.isoformat(), "source": source,
        "payload": {"channel": inbound.channel, "sender": inbound.sender[:100],
                    "text": inbound.text[:4096], "message_id": inbound.message_id[:200],
                    "gateway": inbound.gateway[:100],
                    "event_ids": [e["event_id"] for e in made]}}
    for name in ("station_id", "place", "election_id"):
        if name in first:
            event[name] = first[name]
    return event
