"""GET /v1/evidence/{sha256}: an evidence file, streamed, with Range for video players."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from saylau.evidence import (
    EvidenceError,
    EvidenceStorage,
    RangeNotSatisfiable,
    check_digest,
    parse_range,
    servable_record,
)
from saylau.web.service import problem
from services.api.deps import ReaderDep, may_see_names

router = APIRouter()
SAFE = {"Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=31536000, immutable"}
"""A file is immutable (named by its hash) and never runs as a page of this origin."""


@router.get("/v1/evidence/{sha256}", responses={
    206: {"description": "the requested byte range"}, 403: {"description": "a photo's original"},
    404: {"description": "no such file"}, 416: {"description": "range past the end"}})
async def get_evidence(sha256: str, request: Request, who: ReaderDep) -> Response:
    """One evidence file (a photo's original needs an audit or admin key)."""
    storage = request.app.state.wiring.evidence
    try:
        check_digest(sha256)
        opened = await anyio.to_thread.run_sync(_open, storage, sha256, may_see_names(who),
                                                request.headers.get("range"))
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


def _open(storage: EvidenceStorage, sha256: str, may_see_original: bool,
          range_header: str | None) -> tuple[dict[str, Any], int, Any, Iterator[bytes]]:
    record = servable_record(storage, sha256, may_see_original)
    size = storage.size(sha256)
    byte_range = parse_range(range_header, size)
    return record, size, byte_range, storage.open(sha256, byte_range)
