"""The coded-SMS grammar: ``PS660 OAD 4 @0600`` → observer.access_denied at PS-660, 4 observers.

::

    message  = report { ";" report }              (up to 10 reports; all or nothing)
    report   = station CODE { word } [ "#" note ]
             | ( "DET" | "REL" ) place number { word } [ "#" note ]
    station  = "PS" ["-"] id                      PS660, PS-660, ps 660 → PS-660
    place    = city | city "/" region             Almaty; Chingirlau/West Kazakhstan
    word     = number | "@" HHMM | qualifier      @0600, @06:00: local time on voting day

Case-insensitive; spaces are free. docs/channels.md lists every code with examples.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from saylau.channels import Context, Inbound, Made, derived_event_id, message_event_id

MAX_REPORTS = 10


class CodeError(ValueError):
    """A report that cannot be read; the message is sent back to the sender as is."""


@dataclass(frozen=True)
class Code:
    """One code: the event type it makes and what its words fill in."""

    type: str
    version: int = 1
    count: str | None = None
    noun: str = ""
    count_required: bool = False
    count_default: int | None = None
    count_max: int = 1000
    choice: str | None = None
    choices: Mapping[str, str] = field(default_factory=dict)
    choice_default: str | None = None
    note: str | None = "description"


STATION_CODES: Mapping[str, Code] = {
    "OAD": Code("observer.access_denied", count="observers", noun="observers",
                count_required=True, note="reason"),
    "OEX": Code("observer.expelled", count="observers", noun="observers", choice="reason_kind",
                choices={"FILM": "filming", "CERT": "certificate_not_notarised",
                         "PCR": "pcr_test", "INT": "interference"},
                choice_default="other", note="reason"),
    "BST": Code("ballot.stuffing_observed", count="ballots", noun="ballots", count_max=100000),
    "UNP": Code("unauthorised_person.present", count="persons", noun="persons",
                count_default=1),
    "SEAL": Code("ballot_box.seal_broken", choice="box",
                 choices={"MOB": "mobile", "STAT": "stationary"}, choice_default="stationary"),
    "CNT": Code("count.procedure_violated", choice="violation",
                choices={"BAL": "ballots_not_announced", "VOT": "votes_not_announced",
                         "REC": "reconciliation_skipped", "UNU": "unused_ballots_not_cancelled",
                         "PROT": "protocol_not_displayed"}, choice_default="other"),
    "VTA": Code("voter.turned_away", count="count", noun="voters", count_required=True,
                count_max=100000, choice="reason",
                choices={"PCR": "pcr_test", "TEMP": "temperature", "LIST": "not_on_list",
                         "DOC": "no_document"}, choice_default="other"),
    "PVP": Code("photo_video.prohibited", choice="person_role",
                choices={"OBS": "observer", "PRX": "proxy", "JRN": "journalist",
                         "VOT": "voter"}, choice_default="observer"),
    "VLI": Code("voter_list.irregularity", count="entries", noun="entries", count_max=100000,
                choice="kind", choices={"MULT": "supplementary_list_multiple_entries",
                                        "DEAD": "deceased_listed", "MISS": "voter_missing",
                                        "DUP": "duplicate_entry"}, choice_default="other"),
    "JOB": Code("journalist.obstructed", choice="action",
                choices={"SEIZ": "equipment_seized", "DMG": "equipment_damaged",
                         "DEN": "access_denied", "DET": "detained"}, choice_default="other"),
    "OPN": Code("station.opened", note="note"),
    "CLS": Code("station.closed", note="note"),
}
PLACE_CODES: Mapping[str, Code] = {
    "DET": Code("detention.reported", 2, count="count", noun="people detained",
                count_required=True, count_max=100000, note="reason"),
    "REL": Code("detention.released", count="count", noun="people released",
                count_required=True, count_max=100000, note=None),
}
KNOWN = ", ".join(sorted({*STATION_CODES, *PLACE_CODES}))
HELP = ("Send: <station> <code> [number] [@HHMM], e.g. PS660 OAD 4 @0600; or DET <city> <n>, "
        f"REL <city> <n>. Codes: {KNOWN}. Several reports: separate with ;")
TIME = re.compile(r"^@(\d{1,2})[:.]?(\d{2})$")
STATION = re.compile(r"^PS-?([A-Z0-9][A-Z0-9._:-]{0,60})$")


@dataclass
class Report:
    """One report as read, before it becomes an envelope."""

    code: str
    spec: Code
    station_id: str | None = None
    place: tuple[str, str | None] | None = None
    count: int | None = None
    choice: str | None = None
    at: time | None = None
    note: str = ""


def parse_sms(inbound: Inbound, context: Context) -> Made:
    """Every report in ``inbound.text`` as envelopes, or a precise error to send back."""
    text = inbound.text.strip()
    if text.upper() in ("HELP", "?", "/HELP", "/START"):
        return Made([], HELP)
    try:
        reports = read_message(text, context.cities)
        events = [envelope(inbound, context, i, r) for i, r in enumerate(reports)]
    except CodeError as exc:
        return Made([], f"Not recorded: {exc}", error=True)
    ref = message_event_id(inbound).hex[:8]
    return Made(events, f"Recorded: {'; '.join(map(summary, reports))} (ref {ref})")


def read_message(text: str, cities: Mapping[str, tuple[str, str]]) -> list[Report]:
    """The reports of one message, all or nothing."""
    parts = [p for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        raise CodeError("empty message; send e.g. PS660 OAD 4")
    if len(parts) > MAX_REPORTS:
        raise CodeError(f"{len(parts)} reports in one message; at most {MAX_REPORTS}")
    reports = []
    for n, part in enumerate(parts, 1):
        try:
            reports.append(read_report(part, cities))
        except CodeError as exc:
            raise CodeError(f"report {n}: {exc}" if len(parts) > 1 else str(exc)) from None
    return reports


def read_report(part: str, cities: Mapping[str, tuple[str, str]]) -> Report:
    body, _, note = part.partition("#")
    body = re.sub(r"@\s+", "@", re.sub(r"^\s*PS[\s-]+(?=\d)", "PS-", body, flags=re.IGNORECASE))
    words = body.upper().split()
    if not words:
        raise CodeError("nothing before the # note; send e.g. PS660 OAD 4")
    if words[0] in PLACE_CODES:
        report = read_place_report(words, body.split()[1:], cities)
    else:
        report = read_station_report(words)
    report.note = " ".join(note.split())[:2000]
    if report.note and report.spec.note is None:
        raise CodeError(f"{report.code} takes no note after #")
    return report


def read_station_report(words: list[str]) -> Report:
    match = STATION.match(words[0])
    if not match:
        raise CodeError(f"start with a station (e.g. PS660) or DET/REL, not {words[0]}")
    station = f"PS-{match.group(1)}"
    if len(words) < 2:
        raise CodeError(f"{station}: code missing; known: {KNOWN}")
    code = words[1]
    if code not in STATION_CODES:
        raise CodeError(f"unknown code {code}; known: {KNOWN}")
    report = Report(code, STATION_CODES[code], station_id=station)
    read_words(report, words[2:], f"{words[0]} {code}")
    return report


def read_place_report(words: list[str], original: list[str],
                      cities: Mapping[str, tuple[str, str]]) -> Report:
    code, spec = words[0], PLACE_CODES[words[0]]
    rest = [(w, o) for w, o in zip(words[1:], original) if not TIME.match(w)]
    if not rest or not rest[-1][0].isdigit() or len(rest) < 2:
        where = " ".join(o for _, o in rest if not o.isdigit())
        raise CodeError(f"{code} {where} needs a number of {spec.noun}" if where else
                        f"{code} needs a city and a number, e.g. {code} Almaty 30")
    report = Report(code, spec, place=resolve_place(" ".join(o for _, o in rest[:-1]), cities))
    read_words(report, [w for w in words[1:] if TIME.match(w)] + [rest[-1][0]], code)
    return report


def read_words(report: Report, words: list[str], said: str) -> None:
    """Fill count, qualifier and time from the words after the code."""
    spec = report.spec
    for word in words:
        if (hit := TIME.match(word)) is not None:
            report.at = clock(word, int(hit.group(1)), int(hit.group(2)))
        elif word.isdigit() and spec.count and report.count is None:
            report.count = bounded(int(word), spec, said)
        elif word in spec.choices and report.choice is None:
            report.choice = spec.choices[word]
        else:
            raise CodeError(f"{said}: unexpected {word}" + allowed(spec))
    if report.count is None and spec.count_required:
        raise CodeError(f"{said} needs a number of {spec.noun}")


def allowed(spec: Code) -> str:
    words = [*([f"a number of {spec.noun}"] if spec.count else []), *spec.choices, "@HHMM",
             *(["# note"] if spec.note else [])]
    return f"; allowed: {', '.join(words)}"


def bounded(number: int, spec: Code, said: str) -> int:
    if not 1 <= number <= spec.count_max:
        raise CodeError(f"{said} {number}: {spec.noun} must be 1 to {spec.count_max}")
    return number


def clock(word: str, hour: int, minute: int) -> time:
    if hour > 23 or minute > 59:
        raise CodeError(f"bad time {word}; write @HHMM, e.g. @0600")
    return time(hour, minute)


def resolve_place(text: str, cities: Mapping[str, tuple[str, str]]) -> tuple[str, str | None]:
    """``(region, city)`` of ``Almaty`` (a known city) or ``Chingirlau/West Kazakhstan``."""
    city, slash, region = (t.strip() for t in text.partition("/"))
    if slash:
        if not city or not region:
            raise CodeError(f"write city/region, e.g. Chingirlau/West Kazakhstan, not {text}")
        return titled(region), titled(city)
    known = cities.get(city.casefold()) or cities.get("-".join(city.split()).casefold())
    if known is None:
        raise CodeError(f"unknown city {city}; write {city}/<region>")
    return known[1], known[0]


def titled(name: str) -> str:
    return name.title() if name.islower() or name.isupper() else name


def envelope(inbound: Inbound, context: Context, index: int, report: Report) -> dict[str, Any]:
    """The report as a partner would have posted it to /v1/events."""
    place = report.place or context.stations.get(report.station_id or "")
    region = place[0] if place else context.region
    event: dict[str, Any] = {
        "event_id": str(derived_event_id(inbound, index)), "type": report.spec.type,
        "schema_version": report.spec.version, "source": context.source,
        "occurred_at": occurred_at(report, inbound, context, region).isoformat(),
        "payload": payload(report)}
    if report.station_id:
        event["station_id"] = report.station_id
    if place:
        event["place"] = {"region": place[0], **({"city": place[1]} if place[1] else {})}
    if context.election:
        event["election_id"] = context.election.id
    return event


def occurred_at(report: Report, inbound: Inbound, context: Context,
                region: str | None) -> datetime:
    """``@HHMM`` on the election's voting day in the region's zone; else when received."""
    if report.at is None:
        return inbound.received_at
    if context.election is None:
        zone = ZoneInfo(context.default_zone)
        return datetime.combine(inbound.received_at.astimezone(zone).date(), report.at, zone)
    zone = context.election.zone(region)
    return datetime.combine(context.election.voting_day, report.at, zone)


def payload(report: Report) -> dict[str, Any]:
    spec, out = report.spec, {}
    count = report.count if report.count is not None else spec.count_default
    if spec.count and count is not None:
        out[spec.count] = count
    if spec.choice:
        out[spec.choice] = report.choice or spec.choice_default
    if spec.note and report.note:
        out[spec.note] = report.note
    return out


def summary(report: Report) -> str:
    """How the report was read, for the confirmation: ``PS-660 OAD 4 observers @06:00``."""
    where = report.station_id or (report.place and (report.place[1] or report.place[0]))
    words = [f"{where} {report.code}"]
    if report.count is not None:
        words.append(f"{report.count} {report.spec.noun}")
    if report.choice:
        words.append(f"({report.choice})")
    if report.at:
        words.append(f"@{report.at:%H:%M}")
    return " ".join(words)
