"""GET /v1/export: the stored events as NDJSON or CSV, streamed; a coordinator's holds only
her regions' events, and names as her role allows. ``saylau export`` (the log itself, for
auditors: chains, offline verify and replay) is another tool."""
from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from saylau.audit.export import CSV_COLUMNS, csv_row
from saylau.log.decode import Message
from saylau.privacy.records import Names
from saylau.readmodels.events import export_pages
from services.api.deps import NamesDep, PoolDep, ReachDep

router = APIRouter(tags=["export"])
MEDIA = {"ndjson": "application/x-ndjson", "csv": "text/csv"}
LINE = {"type": "object", "required": ["partition", "offset", "record", "status"],
        "description": "one event per line: where the log holds it, the record as appended "
                       "(names opened or \"[redacted]\" as the caller's role allows) and its "
                       "triage status",
        "properties": {"partition": {"type": "integer"}, "offset": {"type": "integer"},
                       "record": {"type": "object"}, "status": {"type": "string"}}}
ANSWERS = {200: {"description": "the events, oldest first", "content": {
    MEDIA["ndjson"]: {"schema": LINE},
    MEDIA["csv"]: {"schema": {"type": "string", "description": "a header row ("
                              + ", ".join((*CSV_COLUMNS, "status")) + "), then a row per event"}}}}}


@router.get("/v1/export", response_class=StreamingResponse, responses=ANSWERS)
async def export_events(db: PoolDep, shown: NamesDep, reach: ReachDep, fmt: Annotated[
        Literal["ndjson", "csv"], Query(alias="format", description="`ndjson` (a JSON object per line) or "
                                        "`csv`; anything else is refused with 422 naming "
                                        "`format`")] = "ndjson") -> StreamingResponse:
    """Every event the read models hold, oldest first, streamed: the caller's regions' only
    when bound to regions (an event of no place at all is national), names as the role
    allows. ``saylau export`` reads the log itself and stays an auditor's tool."""
    lines = ndjson(db, shown, reach.filter()) if fmt == "ndjson" \
        else csv_text(db, shown, reach.filter())
    return StreamingResponse(lines, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="saylau-events.{fmt}"'})


async def ndjson(db: asyncpg.Pool, shown: Names, within: list[str] | None) -> AsyncIterator[bytes]:
    async for page in export_pages(db, shown, within):
        yield b"".join(orjson.dumps(line, default=str) + b"\n" for line in page)


async def csv_text(db: asyncpg.Pool, shown: Names, within: list[str] | None) -> AsyncIterator[bytes]:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow((*CSV_COLUMNS, "status"))
    async for page in export_pages(db, shown, within):
        for line in page:
            row = csv_row(Message(line["partition"], line["offset"], b""), line["record"])
            writer.writerow((*row, line["status"]))
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
    if text.tell():
        yield text.getvalue().encode()
