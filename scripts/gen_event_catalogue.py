"""Write docs/event-catalogue.md from schemas/events/ and the breach rules.

Usage: .venv/bin/python scripts/gen_event_catalogue.py [--check]

The legal references are not typed in here: each type's example payload is run through
``rules.breaches`` at every boundary of every election calendar, and the provisions the
rules cite are listed. So the page changes whenever a schema or a rule does.
With ``--check`` the script writes nothing and exits 1 if the page is out of date.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from saylau.catalogue import Catalogue
from saylau.domain.calendar import Calendars, Election
from saylau.domain.rules import Breach, RuleConfig, breaches
from saylau.envelope import Envelope, Place

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "event-catalogue.md"
SCOPE_ORDER = ("station", "place", "campaign", "report", "registry", "message", "log")
PLACES = {"station": Place(region="North Kazakhstan", city="Petropavlovsk"),
          "place": Place(region="Almaty", city="Almaty"),
          "campaign": Place(region="Karaganda", city="Karaganda")}
CODE_NAMES = {"CAO": "CAO", "CC": "Criminal Code", "ElectionsLaw": "Elections Law"}


def probe_times(election: Election) -> list[datetime]:
    """Every boundary of the calendar, and noon on voting day, as aware local times."""
    naive = [value for value in election.model_dump().values() if isinstance(value, datetime)]
    naive.append(datetime.combine(election.voting_day, time(12, 0)))
    zone = election.zone(None)
    return sorted(moment.replace(tzinfo=zone) for moment in naive)


def example_envelope(type_name: str, version: int, scope: str, payload: dict[str, Any],
                     occurred_at: datetime, election_id: str | None) -> Envelope:
    return Envelope(
        event_id=uuid5(NAMESPACE_URL, f"saylau-doc|{type_name}|{occurred_at.isoformat()}"),
        type=type_name, schema_version=version, occurred_at=occurred_at,
        source="kibhr-hotline", station_id="PS-660" if scope == "station" else None,
        election_id=election_id, place=PLACES.get(scope), payload=payload)


def cited_rules(type_name: str, version: int, scope: str, payload: dict[str, Any],
                calendars: Calendars) -> list[Breach]:
    """What the rules make of the example payload at any moment of any election."""
    found: dict[str, Breach] = {}
    for election in calendars.elections.values():
        for moment in probe_times(election):
            envelope = example_envelope(type_name, version, scope, payload, moment, election.id)
            for breach in breaches(envelope, calendars, RuleConfig()):
                found.setdefault(breach.rule_id, breach)
    return [found[rule_id] for rule_id in sorted(found)]


def legal_cell(found: list[Breach]) -> str:
    if not found:
        return "—"
    cells = []
    for breach in found:
        ref = breach.legal_ref
        cite = "monitoring alert" if ref is None else (
            f"{CODE_NAMES[ref.code]} Art. {ref.article}" + (f" §{ref.part}" if ref.part else ""))
        cells.append(f"`{breach.rule_id}` ({breach.severity}): {cite}")
    return "<br>".join(cells)


def example_moment(scope: str, election: Election) -> datetime:
    """Mid-campaign for campaign events, the morning of voting day for the rest."""
    day = election.campaign_start.date() + timedelta(days=7)
    if scope != "campaign":
        day = election.voting_day
    return datetime.combine(day, time(10, 0), tzinfo=election.zone(None))


def example_block(type_name: str, version: int, scope: str, payload: dict[str, Any],
                  election: Election) -> str:
    moment = example_moment(scope, election)
    envelope = example_envelope(type_name, version, scope, payload, moment, election.id)
    return json.dumps(envelope.wire(), indent=2, ensure_ascii=False)


def personal_line(paths: tuple[tuple[str, ...], ...]) -> str:
    """Which fields name people: sealed at ingest, redacted for read-only scopes."""
    if not paths:
        return ""
    return ("Personal data (encrypted at ingest, redacted for read-only scopes): "
            f"{field_list(paths)}\n\n")


def free_text_line(paths: tuple[tuple[str, ...], ...]) -> str:
    """Which fields people write in their own words: sealed at ingest, withheld likewise."""
    if not paths:
        return ""
    return ("Free text (encrypted at ingest, `[text withheld]` for read-only scopes): "
            f"{field_list(paths)}\n\n")


def field_list(paths: tuple[tuple[str, ...], ...]) -> str:
    return ", ".join("`" + ".".join(p).replace(".*", "[]") + "`" for p in paths)


def render(catalogue: Catalogue, calendars: Calendars) -> str:
    """The whole page, deterministic for given schemas, rules and calendars."""
    election = max(calendars.elections.values(), key=lambda e: e.announced)
    rows, sections = [], []
    types = sorted(catalogue.types, key=lambda t: (SCOPE_ORDER.index(
        catalogue.schemas[(t, 1)]["x-saylau"]["scope"]), t))
    for type_name in types:
        version = catalogue.latest_version(type_name)
        schema = catalogue.schemas[(type_name, version)]
        scope, incident = schema["x-saylau"]["scope"], schema["x-saylau"]["incident"]
        payload = schema["examples"][0]
        found = cited_rules(type_name, version, scope, payload, calendars)
        versions = ", ".join(f"v{v}" for name, v in sorted(catalogue.schemas) if name == type_name)
        rows.append(f"| `{type_name}` | {versions} | {scope} | {'yes' if incident else 'no'} | "
                    f"{schema['description']} | {legal_cell(found)} |")
        sections.append(f"### `{type_name}`\n\n{schema['description']}\n\n"
                        f"{personal_line(catalogue.personal_paths(type_name, version))}"
                        f"{free_text_line(catalogue.free_text_paths(type_name, version))}```json\n"
                        f"{example_block(type_name, version, scope, payload, election)}\n```\n")
    return "\n".join([
        "# Event catalogue",
        "",
        "Generated by `scripts/gen_event_catalogue.py` from `schemas/events/*.json` and the",
        "breach rules in `saylau/domain/rules.py`; do not edit by hand.",
        "",
        "*Scope* says what an event is about: a polling **station**, a **place** (region/city),",
        "the **campaign**, an earlier **report**, the registries, a **message** between the",
        "centre and its observers, or the **log** itself (chain anchors).",
        "*Incident* says whether the projector counts",
        "it as an incident at its station or place. *Rules* lists what the breach rules make of",
        "the type (rule id, severity, provision); calendar rules fire only inside their period.",
        "",
        "An event with no place of its own belongs to the region of what it points at: a",
        "triage action or report and an evidence file (scope **report**, `payload.event_id`)",
        "to its report's, a `message.received` to its first report's (`payload.event_ids`).",
        "Only events with no place at all are national: a coordinator bound to regions never",
        "sees them.",
        "",
        "Ingest stamps the stored record with `received_at`, `partner` and, on every triage",
        "event (`triage.claimed`, `triage.escalated`, `triage.commented`, `report.verified`,",
        "`report.rejected`), **`actor`**: who did it, the signed-in account's login or the",
        "key's partner. It is never taken from the body: an envelope or payload field `actor`",
        "is refused with 422 naming it. `operator` stays what the operator wrote (free text).",
        "",
        "| type | versions | scope | incident | meaning | rules |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "## Examples (latest version of each type)",
        "",
        *sections,
    ])


def main(argv: list[str]) -> int:
    text = render(Catalogue(), Calendars.load())
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        return 0 if current == text else 1
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
