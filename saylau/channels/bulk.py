"""Bulk import for partners: NDJSON (one envelope per line) or CSV (one envelope per row).

Parsing only; each envelope is then validated and appended like a POST to /v1/events, and
the answer names every line. A line without ``event_id`` gets one derived from its content
and the partner by a keyed hash, so importing the same file twice reports duplicates.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from saylau.envelope import canonical

COLUMNS = ("event_id", "type", "schema_version", "occurred_at", "source", "station_id",
           "region", "city", "election_id", "payload")
REQUIRED_COLUMNS = ("type", "occurred_at", "source")


class RowError(ValueError):
    """A CSV row that is not an envelope; the message names the cell."""


@dataclass(frozen=True)
class Line:
    """One line (NDJSON) or row (CSV): the envelope read from it, or why none was."""

    number: int
    item: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class BulkIds:
    """Ids of one partner's lines that carry none: HMAC-SHA256 of the partner and the line's
    content under a key derived from the blind-index key, as a UUID. Deterministic, so a
    re-import is a duplicate; keyed, so an id confirms no guessed name (a uuid5 over the
    plaintext would: anyone could hash a candidate line and compare)."""

    key: bytes
    partner: str

    def __call__(self, item: dict[str, Any]) -> uuid.UUID:
        mac = hmac.new(self.key, f"bulk|{self.partner}|".encode() + canonical(item),
                       hashlib.sha256).digest()
        return uuid.UUID(bytes=mac[:16], version=4)


def partner_namespace(partner: str, index_key: bytes) -> BulkIds:
    """The ids of ``partner``'s imports (``index_key``: the data-key store's index key)."""
    return BulkIds(hmac.new(index_key, b"saylau.bulk-ids.v1", hashlib.sha256).digest(), partner)


def with_event_id(item: dict[str, Any], namespace: BulkIds) -> dict[str, Any]:
    """``item`` with its own event_id, else one derived from its content."""
    if item.get("event_id"):
        return item
    return {"event_id": str(namespace(item)), **item}


def parse_ndjson(text: str, namespace: BulkIds) -> list[Line]:
    """Every non-blank line as a JSON object; blank lines are skipped, not counted."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            lines.append(Line(number, error=f"not valid JSON: {exc}"))
            continue
        if not isinstance(item, dict):
            lines.append(Line(number, error="each line must be one JSON object (an envelope)"))
            continue
        lines.append(Line(number, with_event_id(item, namespace)))
    return lines


def parse_csv(text: str, namespace: BulkIds) -> list[Line]:
    """Rows under a header naming columns from COLUMNS; ``payload`` is a JSON object. Text
    that is not CSV (a field over the csv module's limit, ...) ends the file with its error."""
    reader = csv.DictReader(io.StringIO(text, newline=""))  # a lone CR ends a row, too
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        return [Line(1, error=f"not CSV: {exc}")]
    problem = header_problem(header)
    if problem:
        return [Line(1, error=problem)]
    reader.fieldnames = header
    lines = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            lines.append(Line(reader.line_num, error=f"not CSV: {exc}"))
            break
        if not any((value or "").strip() for value in row.values()):
            continue
        try:
            item = row_envelope(row)
        except RowError as exc:
            lines.append(Line(reader.line_num, error=str(exc)))
        else:
            lines.append(Line(reader.line_num, with_event_id(item, namespace)))
    return lines


def header_problem(header: list[str]) -> str | None:
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if not header:
        return f"empty file; the first row names the columns: {','.join(COLUMNS)}"
    if unknown or missing:
        return ("header: " + "; ".join(filter(None, [
            unknown and f"unknown column(s) {', '.join(unknown)}",
            missing and f"missing column(s) {', '.join(missing)}"]))
            + f"; columns: {','.join(COLUMNS)}")
    return None


def row_envelope(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row as an envelope; empty cells are left out."""
    if None in row:
        raise RowError(f"more cells than the header's {len(row) - 1} columns")
    cells = {k: v.strip() for k, v in row.items() if isinstance(v, str) and v.strip()}
    item: dict[str, Any] = {k: cells[k] for k in ("event_id", "type", "occurred_at", "source",
                                                  "station_id", "election_id") if k in cells}
    item["schema_version"] = whole_number(cells.get("schema_version", "1"))
    item["payload"] = json_object(cells.get("payload", "{}"))
    if "region" in cells:
        item["place"] = {"region": cells["region"],
                         **({"city": cells["city"]} if "city" in cells else {})}
    elif "city" in cells:
        raise RowError("city given without region")
    return item


def whole_number(text: str) -> int:
    if not text.isdigit():
        raise RowError(f"schema_version must be a whole number, not {text!r}")
    return int(text)


def json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RowError(f"payload is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RowError("payload must be a JSON object")
    return value
