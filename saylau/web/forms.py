"""The forms an observer fills on her phone, labelled in Kazakh, Russian and English.

The words come from the one set of language files (``i18n/<lang>.json``) the dashboard and the
observer app share: ``event.<type>.label`` / ``.help`` for an incident type,
``checklist.<id>.label`` / ``.help`` and ``checklist.<id>.<question>`` for a checklist,
``checklist.option.<value>`` for a choice. The checklists are ``schemas/checklists/``, the
incident types the catalogue's (``x-saylau.incident``) that an observer may post; each type
comes with its payload's JSON Schema as written.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from saylau.catalogue import SCHEMA_DIR, Catalogue, catalogue
from saylau.domain.checklists import Checklist, ChecklistBook, Question, checklist_book
from saylau.domain.observers import may_post
from saylau.envelope import canonical

I18N_DIR = Path(__file__).resolve().parents[2] / "i18n"
"""``<lang>.json`` per language: served by the api at ``/static/i18n/``, read here."""
LANGUAGES = ("kk", "ru", "en")
PHASES = ("opening", "voting", "closing")
"""The order of a day's checklists."""


@lru_cache(maxsize=1)
def translations() -> dict[str, dict[str, str]]:
    return {lang: json.loads((I18N_DIR / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES}


def labels(key: str) -> dict[str, str]:
    """``key`` in every language (KeyError when a file lacks it: a unit test checks they
    all have every key)."""
    return {lang: words[key] for lang, words in translations().items()}


@lru_cache(maxsize=1)
def shipped_forms() -> dict[str, Any]:
    """The forms of this release's catalogue and checklists (built once per process)."""
    return observer_forms(catalogue(), checklist_book())


def observer_forms(types: Catalogue, checklists: ChecklistBook) -> dict[str, Any]:
    """The latest version of each checklist, and the incident types an observer may post."""
    latest: dict[str, Checklist] = {}
    for (checklist_id, _), checklist in sorted(checklists.checklists.items()):
        latest[checklist_id] = checklist
    ordered = sorted(latest.values(), key=lambda c: (
        PHASES.index(c.phase) if c.phase in PHASES else len(PHASES), c.id))
    return {"checklists": [checklist_form(c) for c in ordered],
            "incident_types": [incident_form(types, t) for t in types.types
                               if is_observed_incident(types, t)]}


def is_observed_incident(types: Catalogue, type_name: str) -> bool:
    schema = types.schemas[(type_name, types.latest_version(type_name))]
    return bool(schema.get("x-saylau", {}).get("incident")) and may_post(
        type_name, types.scope(type_name))


def incident_form(types: Catalogue, type_name: str) -> dict[str, Any]:
    version = types.latest_version(type_name)
    written = json.loads((SCHEMA_DIR / f"{type_name}.v{version}.json").read_text("utf-8"))
    return {"type": type_name, "schema_version": version, "scope": types.scope(type_name),
            "label": labels(f"event.{type_name}.label"),
            "help": labels(f"event.{type_name}.help"), "fields": written}


def checklist_form(checklist: Checklist) -> dict[str, Any]:
    key = f"checklist.{checklist.id}"
    return {"checklist_id": checklist.id, "version": checklist.version,
            "phase": checklist.phase, "label": labels(f"{key}.label"),
            "help": labels(f"{key}.help"),
            "questions": [question_form(key, q) for q in checklist.questions]}


def question_form(key: str, q: Question) -> dict[str, Any]:
    form: dict[str, Any] = {"id": q.id, "type": q.type, "required": q.required,
                            "label": labels(f"{key}.{q.id}")}
    if q.options:
        form["options"] = [{"value": o, "label": labels(f"checklist.option.{o}")}
                           for o in q.options]
    form.update({k: v for k, v in (("minimum", q.minimum), ("maximum", q.maximum))
                 if v is not None})
    return form


def version_of(stations: list[dict[str, Any]], forms: dict[str, Any],
               messages: list[dict[str, Any]] | None = None) -> str:
    """What the phone compares to download her stations, forms and messages again only on a
    change (a message that arrives, or that she has read, is a change)."""
    seen = [(m["id"], m["read"]) for m in messages or []]
    return hashlib.sha256(canonical({"stations": stations, "forms": forms, "messages": seen})
                          ).hexdigest()[:16]
