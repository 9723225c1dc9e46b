"""GET /v1/evidence/{sha256}: an evidence file, streamed, with Range for video players."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from saylau.evidence import (
    EvidenceError,
    EvidenceNotFound,
    EvidenceStorage,
    RangeNotSatisfiable,
    check_digest,
    parse_range,
    servable_record,
)
from saylau.evidence.media import ALLOWED
from saylau.readmodels.evidence import bound_within
from saylau.web.contract import errors
from saylau.web.service import problem
from services.api.deps import ReaderDep, may_see_names

router = APIRouter()
DIGEST = "^[0-9a-f]{64}$"
SAFE = {"Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=31536000, immutable"}
"""A file is immutable (named by its hash) and never runs as a page of this origin."""


FILE = {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                    for media in ALLOWED}}


@router.get("/v1/evidence/{sha256}", response_class=Response, responses={
    200: {"description": "the file, as the media type it was stored as", **FILE},
    206: {"description": "the requested byte range", **FILE},
    **errors(403, 404, 416, s403="a photo's original (with its metadata) needs an audit or "
                                 "admin key", s404="no file stored under this SHA-256",
             s416="the range selects no byte of the file")})
async def get_evidence(
        sha256: Annotated[str, Path(pattern=DIGEST, description="the file's SHA-256")],
        request: Request, who: ReaderDep,
        byte_range: Annotated[str | None, Header(alias="Range", description=(
            "bytes=first-last, bytes=first- or bytes=-suffix (one range; anything else is "
            "ignored and the whole file sent)"))] = None) -> Response:
    """One evidence file (a photo's original needs an audit or admin key); a key or account
    bound to regions gets only the files of its regions' reports (another is answered as an
    unknown one)."""
    storage = request.app.state.wiring.evidence
    try:
        check_digest(sha256)
        await check_reach(request, sha256, who.reach.filter())
        opened = await anyio.to_thread.run_sync(_open, storage, sha256, may_see_names(who),
                                                byte_range)
    except RangeNotSatisfiable as exc:
        size = await anyio.to_thread.run_sync(storage.size, sha256)
        response = problem(exc.status, str(exc))
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    except EvidenceError as exc:
        return problem(exc.status, str(exc))
    record, size, byte_range, chunks = opened
    headers = {**SAFE, "ETag": f'"{sha256}"', "Content-Length": str(size)}
    if byte_range is not None:
        first, last = byte_range
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(chunks, status_code=200 if byte_range is None else 206,
                             media_type=record["media_type"], headers=headers)


async def check_reach(request: Request, sha256: str, within: list[str] | None) -> None:
    """A regional principal may fetch only the files of her regions' reports: another is
    not found, as an unknown one (a national one asks nothing more of PostgreSQL)."""
    if within is None:
        return
    wiring = request.app.state.wiring
    async with wiring.pool.acquire() as conn:
        if not await bound_within(conn, sha256, wiring.settings.ingest_schema, within):
            raise EvidenceNotFound(f"no evidence file {sha256}")


def _open(storage: EvidenceStorage, sha256: str, may_see_original: bool,
          range_header: str | None) -> tuple[dict[str, Any], int, Any, Iterator[bytes]]:
    record = servable_record(storage, sha256, may_see_original)
    size = storage.size(sha256)
    byte_range = parse_range(range_header, size)
    return record, size, byte_range, storage.open(sha256, byte_range)
