"""What ingest's OpenAPI document says beyond what FastAPI derives from the routes.

* ``Envelope``: one variant per event type and schema version, each with its payload schema
  from ``schemas/events`` (as written: the plain form of names a partner sends) and what
  intake requires besides (a station or a place where the type happens somewhere, the
  station's id where the type is about one station, the questions of each checklist);
* the channels' bodies and settings: an SMS gateway's form or JSON, a Telegram update, a bulk
  import as NDJSON or CSV, and the gateway's ``?election=&region=&source=``.

Routes refer to these schemas by ``$ref``; ``add_schemas`` puts them in the document.
"""
from __future__ import annotations

import json
from typing import Any

from saylau.catalogue import SCHEMA_DIR, catalogue
from saylau.channels.telegram import MAX_ID
from saylau.domain.checklists import Checklist, Question, checklist_book
from saylau.domain.vocabulary import NEEDS_STATION
from saylau.envelope import EXAMPLE, Envelope
from services.ingest.gateway import (
    ID_FIELDS,
    MAX_UNIX,
    SENDER_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    calendars,
)

REF = "#/components/schemas/"
ENVELOPE_REF = {"$ref": f"{REF}Envelope"}
JSON_OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}
"""A JSON answer whose fields are described in prose (an added 200 beside the main answer)."""
LOCATED = ("station", "place")
"""Scopes of the types that happen somewhere: they need ``station_id`` or ``place``."""
OCCURRED_AT = ("RFC 3339 with a UTC offset; not before 1990-01-01 and not more than a day "
               "ahead of the server's clock")
FROM_1990 = "^(199[0-9]|[2-9][0-9]{3})-"


def written_payloads() -> dict[tuple[str, int], dict[str, Any]]:
    """Each type's payload schema as written in ``schemas/events`` (without ``$schema``)."""
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.v*.json")):
        type_name, _, version = path.name.removesuffix(".json").rpartition(".v")
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema.pop("$schema", None)
        found[(type_name, int(version))] = schema
    return found


def question_schema(question: Question) -> dict[str, Any]:
    if question.type == "boolean":
        schema: dict[str, Any] = {"type": "boolean"}
    elif question.type == "choice":
        schema = {"type": "string", "enum": list(question.options)}
    else:
        schema = {"type": "integer", **({"minimum": question.minimum}
                                        if question.minimum is not None else {}),
                  **({"maximum": question.maximum} if question.maximum is not None else {})}
    return {**schema, "description": question.text}


def checklist_schema(checklist: Checklist, written: dict[str, Any]) -> dict[str, Any]:
    """A ``checklist.submitted`` payload answering ``checklist``'s questions."""
    return {
        "title": f"{checklist.id} v{checklist.version}", "description": checklist.title,
        "type": "object", "additionalProperties": False,
        "required": ["checklist_id", "version", "answers"],
        "properties": {
            **written["properties"],
            "checklist_id": {"const": checklist.id},
            "version": {"const": checklist.version},
            "answers": {"type": "object", "additionalProperties": False,
                        "required": [q.id for q in checklist.questions if q.required],
                        "properties": {q.id: question_schema(q)
                                       for q in checklist.questions}}}}


def payload_schema(type_name: str, written: dict[str, Any]) -> dict[str, Any]:
    if type_name != "checklist.submitted":
        return written
    book = checklist_book().checklists
    return {**{k: v for k, v in written.items() if k not in ("properties", "required",
                                                              "additionalProperties", "type")},
            "oneOf": [checklist_schema(book[key], written) for key in sorted(book)]}


def variant(type_name: str, version: int, base: dict[str, Any], scope: str) -> dict[str, Any]:
    """The envelope of one type and version."""
    properties = {**base["properties"], "type": {"const": type_name},
                  "schema_version": {"const": version},
                  "payload": {"$ref": f"{REF}payload.{type_name}.v{version}"}}
    required = list(base["required"])
    schema: dict[str, Any] = {"title": f"{type_name} v{version}", "type": "object",
                              "additionalProperties": False}
    if type_name in NEEDS_STATION:
        properties["station_id"] = base["properties"]["station_id"]["anyOf"][0]
        required.append("station_id")
    elif scope in LOCATED:
        schema["anyOf"] = [
            {"required": ["station_id"], "properties": {"station_id": {"type": "string"}}},
            {"required": ["place"], "properties": {"place": {"type": "object"}}}]
    return {**schema, "required": required, "properties": properties}


def envelope_schemas() -> dict[str, dict[str, Any]]:
    """``Envelope`` (one of the variants), each variant, each payload, ``Place``, ...."""
    base = Envelope.model_json_schema(ref_template=REF + "{model}")
    schemas: dict[str, dict[str, Any]] = base.pop("$defs", {})
    base["properties"]["occurred_at"].update(description=OCCURRED_AT, pattern=FROM_1990)
    known = catalogue()
    variants = []
    for (type_name, version), written in sorted(written_payloads().items()):
        name = f"{type_name}.v{version}"
        schemas[f"payload.{name}"] = payload_schema(type_name, written)
        schemas[f"event.{name}"] = variant(type_name, version, base, known.scope(type_name))
        variants.append({"$ref": f"{REF}event.{name}"})
    schemas["Envelope"] = {
        "title": "Envelope",
        "description": "One report: the envelope (who, when, where) and its type's payload "
                       "(schemas/events/<type>.v<version>.json). Some types need a key with "
                       "the triage or admin scope (403); broadcast.sent is sent with POST "
                       "/v1/broadcasts and broadcast.read by an observer's token only (403 "
                       "elsewhere, naming `type`); a payload's event_id must name an "
                       "accepted event and evidence an uploaded file (422 otherwise).",
        "oneOf": variants, "examples": [EXAMPLE]}
    return schemas


def gateway_body(value: dict[str, Any], moment: dict[str, Any]) -> dict[str, Any]:
    """An SMS gateway's fields, by their first name in ``services/ingest/gateway.py``."""
    return {
        "type": "object", "additionalProperties": True,
        "required": [SENDER_FIELDS[0], TEXT_FIELDS[0], ID_FIELDS[0]],
        "description": "Gateways' own names are read too: the sender from "
                       f"{', '.join(SENDER_FIELDS)}, the text from {', '.join(TEXT_FIELDS)}, "
                       f"the id from {', '.join(ID_FIELDS)}, the time from "
                       f"{', '.join(TIME_FIELDS)} (the first given of each); other fields "
                       "are ignored.",
        "properties": {
            SENDER_FIELDS[0]: {**value, "description": "the sender's number"},
            TEXT_FIELDS[0]: {**value, "description": "the message text"},
            ID_FIELDS[0]: {**value, "description": "the gateway's id of the message (the "
                                                   "first 200 characters are kept)"},
            TIME_FIELDS[0]: {**moment, "description": "when it was sent: RFC 3339 with a "
                                                      "UTC offset, or Unix seconds; empty "
                                                      "(or null) is now"}}}


UNIX_TEXT = {"type": "string", "pattern": "^0*[0-9]{1,10}$"}
RFC3339 = {"type": "string", "format": "date-time"}
SMS_BODY = {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": gateway_body(
        {"type": "string", "minLength": 1}, {"anyOf": [RFC3339, UNIX_TEXT, {"const": ""}]})},
    "application/json": {"schema": gateway_body(
        {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]},
        {"anyOf": [RFC3339, UNIX_TEXT, {"const": ""}, {"type": "null"},
                   {"type": "number", "minimum": 0, "maximum": MAX_UNIX}]})}}}
TELEGRAM_ID = {"type": "integer", "minimum": -MAX_ID, "maximum": MAX_ID}
TELEGRAM_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["update_id"], "additionalProperties": True,
    "description": "A Telegram Update (https://core.telegram.org/bots/api#update); one "
                   "whose message has no text, or an edit, records nothing.",
    "properties": {
        "update_id": TELEGRAM_ID,
        "message": {
            "type": "object", "required": ["message_id", "chat"], "additionalProperties": True,
            "properties": {
                "message_id": TELEGRAM_ID,
                "chat": {"type": "object", "required": ["id"], "additionalProperties": True,
                         "properties": {"id": {"anyOf": [TELEGRAM_ID, {"type": "string"}]}}},
                "text": {"description": "the report (a string; other values record nothing)"},
                "date": {"description": "Unix seconds (an integer; other values record "
                                        "nothing)"}}},
        "edited_message": {"description": "answered, never recorded"}}}}}}
IMPORT_TEXT = {"type": "string", "description": "at most 1,000 non-blank lines (16 MiB)"}
IMPORT_BODY = {"required": True, "content": {
    "application/x-ndjson": {"schema": {
        **IMPORT_TEXT, "description": "one Envelope (JSON object) per line; a line without "
                                      "event_id gets one derived from its content, so "
                                      "importing a file again reports duplicates; at most "
                                      "1,000 non-blank lines (16 MiB)"}},
    "text/csv": {"schema": {
        **IMPORT_TEXT, "description": "a header row naming columns among event_id, type, "
                                      "schema_version, occurred_at, source, station_id, "
                                      "region, city, election_id, payload (type, "
                                      "occurred_at and source required; payload as JSON "
                                      "text), then one envelope per row; at most 1,000 "
                                      "rows (16 MiB)"}}}}


def gateway_parameters() -> list[dict[str, Any]]:
    """The gateway's settings, from its webhook URL."""
    text = {"type": "string"}  # refine adds: no NUL
    return [
        {"name": "election", "in": "query", "required": False,
         "description": "the election reported on (absent or empty: the one under way)",
         "schema": {"type": "string", "enum": ["", *sorted(calendars().elections)]}},
        {"name": "region", "in": "query", "required": False,
         "description": "the region the gateway serves", "schema": text},
        {"name": "source", "in": "query", "required": False,
         "description": "the source recorded for its reports (default: the channel; the "
                        "first 100 characters)", "schema": text}]


def add_schemas(document: dict[str, Any]) -> None:
    """The schemas routes refer to, in ``components``."""
    document.setdefault("components", {}).setdefault("schemas", {}).update(envelope_schemas())
