"""Export the log, whole or filtered, as NDJSON (for offline verify/replay) or CSV.

NDJSON starts with a header line ``{"saylau_export": {...}}`` (topic, filters, each
partition's first and high-watermark offsets), then one line per record:
``{"partition", "offset", "record": <the record exactly as appended>}``, plus
``"duplicate_of": {"partition", "offset"}`` on a record whose event id came earlier (a re-send
appended twice; counted once by the read models). A filtered export
(time range or region) leaves gaps in every chain, so only content hashes can be checked
offline; ``verify`` says so. CSV has one flat row per record for spreadsheets.

Names stay sealed (``enc:v1:…``) unless ``--decrypt`` (an ``audit`` or ``admin`` key) opens
them; a decrypted export says so in its header and is for reading only: its content hashes
no longer match, so ``verify`` and ``replay`` refuse it.
"""
from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

import orjson

from saylau.audit.logsource import HEADER_KEY, Extent, export_line, parse_record
from saylau.audit.verify import Copies, Copy
from saylau.log.decode import Message
from saylau.privacy.records import Names

CSV_COLUMNS = ("partition", "offset", "event_id", "type", "schema_version", "occurred_at",
               "received_at", "partner", "source", "station_id", "election_id", "region",
               "city", "payload", "content_hash", "chain_id", "chain_seq", "chain_prev",
               "chain_hash", "duplicate_of")


class Log(Protocol):
    topic: str
    extents: dict[int, Extent]

    def chunks(self, size: int) -> AsyncIterator[list[Message]]: ...


@dataclass(frozen=True)
class Filters:
    """Which records to export: occurred in [since, until], in ``region``; None = any."""

    since: datetime | None = None
    until: datetime | None = None
    region: str | None = None

    @property
    def active(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items() if v is not None}

    def keeps(self, record: dict[str, Any] | None) -> bool:
        if not self.active:
            return True
        if record is None:
            return False
        try:
            occurred = datetime.fromisoformat(str(record.get("occurred_at")))
        except ValueError:
            return False
        region = (record.get("place") or {}).get("region")
        return ((self.since is None or occurred >= self.since)
                and (self.until is None or occurred <= self.until)
                and (self.region is None or region == self.region))


def header_line(log: Log, filters: Filters, decrypted: bool = False) -> bytes:
    header = {"topic": log.topic, "filters": filters.active, "decrypted": decrypted,
              "partitions": {str(p): [e.low, e.high] for p, e in sorted(log.extents.items())},
              "exported_at": datetime.now(UTC).isoformat(),
              "note": "filtered: the hash chains cannot be verified, only content hashes"
                      if filters.active else "complete: verify checks content and chains"}
    if decrypted:
        header["note"] = ("decrypted: names in plaintext, for reading only; content hashes no "
                          "longer match (verify and replay a plain export)")
    return orjson.dumps({HEADER_KEY: header}) + b"\n"


def csv_row(message: Message, record: dict[str, Any] | None,
            copy: Copy | None = None) -> list[Any]:
    r = record or {}
    place, chain = r.get("place") or {}, r.get("chain") or {}
    return [message.partition, message.offset, r.get("event_id"), r.get("type"),
            r.get("schema_version"), r.get("occurred_at"), r.get("received_at"),
            r.get("partner"), r.get("source"), r.get("station_id"), r.get("election_id"),
            place.get("region"), place.get("city"),
            orjson.dumps(r.get("payload")).decode() if "payload" in r else "",
            r.get("content_hash"), chain.get("id"), chain.get("seq"), chain.get("prev"),
            chain.get("hash"), f"{copy.first[0]}:{copy.first[1]}" if copy else ""]


def marked(line: bytes, copy: Copy | None) -> bytes:
    """An export line, with ``duplicate_of`` when the record is a copy of an earlier one."""
    if copy is None:
        return line
    return line[:-2] + b',"duplicate_of":{"partition":%d,"offset":%d}}\n' % copy.first


async def export(log: Log, out: IO[bytes], fmt: str, filters: Filters, batch: int = 5000,
                 on_progress: Callable[[int], None] = lambda n: None,
                 opened: Names | None = None) -> int:
    """Write the kept records of ``log`` to ``out``; returns how many were written.
    ``opened``: names decrypted for this reader (``--decrypt``), else left sealed."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(CSV_COLUMNS)
    else:
        out.write(header_line(log, filters, decrypted=opened is not None))
    written, copies = 0, Copies()
    async for chunk in log.chunks(batch):
        seen = [(m, r, copies.see(m, r)) for m in chunk for r in [parse_record(m.value)]]
        kept = [(m, r, c) for m, r, c in seen if filters.keeps(r)]
        if opened is not None:
            kept = await _opened(kept, opened)
        for message, record, copy in kept:
            if fmt == "csv":
                writer.writerow(csv_row(message, record, copy))
            elif opened is not None and record is not None:
                out.write(marked(orjson.dumps({"partition": message.partition,
                                               "offset": message.offset, "record": record})
                                 + b"\n", copy))
            else:
                out.write(marked(export_line(message), copy))
        written += len(kept)
        _flush(text, out)
        on_progress(len(chunk))
    _flush(text, out)
    return written


Kept = list[tuple[Message, dict[str, Any] | None, Copy | None]]


async def _opened(kept: Kept, names: Names) -> Kept:
    """The records with their names opened (one key fetch per chunk)."""
    records = [r for _, r, _ in kept if r is not None]
    shown = iter(await names.show(records))
    return [(m, next(shown) if r is not None else None, c) for m, r, c in kept]


def _flush(text: io.StringIO, out: IO[bytes]) -> None:
    if text.tell():
        out.write(text.getvalue().encode())
        text.seek(0)
        text.truncate()
