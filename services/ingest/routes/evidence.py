"""POST /v1/evidence: a photo, video or document, stored by the SHA-256 of its bytes."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.types import Message

from saylau.evidence import ALLOWED, EvidenceError, EvidenceStorage, store_evidence
from saylau.store.db import UNAVAILABLE
from saylau.web.contract import errors
from saylau.web.responses import JSONAnswer
from saylau.web.service import problem, unavailable
from services.ingest.contract import JSON_OBJECT
from services.ingest.deps import ReportKey

router = APIRouter()
MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries and part headers around the file itself."""
RECORD = ("INSERT INTO evidence_files (sha256, bytes, media_type, derivative_sha256, "
          "received_at, partner) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")


class BodyTooLarge(Exception):
    """The request body passed the evidence limit (plus the multipart overhead)."""


def bounded(request: Request, limit: int) -> Request:
    """The request, its body refused (BodyTooLarge) as soon as more than ``limit`` arrives:
    before parsing when Content-Length says so, while parsing a chunked body otherwise."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge
        return message

    return Request(request.scope, receive)


@router.post("/v1/evidence", status_code=201, responses={
    200: {"description": "these bytes were stored before", **JSON_OBJECT},
    **errors(400, 413, 415, 503, s400="the file cannot be read as what it claims to be",
             s413="the file is larger than the limit (EVIDENCE_MAX_BYTES)",
             s415="not JPEG, PNG, HEIC, MP4 or PDF (judged by the content)",
             s503="the file is stored but not indexed (PostgreSQL unavailable); retry")},
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "maxProperties": 11,
                   "description": "the file, and at most 10 other fields (ignored)",
                   "properties": {"file": {"type": "string", "format": "binary"}}},
        "encoding": {"file": {"contentType": ", ".join(ALLOWED)}}}}}})
async def post_evidence(request: Request, principal: ReportKey) -> Response:
    """Store one file (multipart field ``file``); 201 stored now, 200 stored before."""
    wiring = request.app.state.wiring
    limit = wiring.settings.evidence_max_bytes
    try:
        async with bounded(request, limit + MULTIPART_OVERHEAD).form(max_files=1,
                                                                   max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return problem(422, [{"loc": ["body", "file"],
                                      "msg": "multipart/form-data with the file in field 'file'"}])
            stored = await anyio.to_thread.run_sync(_store, wiring.evidence, upload, limit)
    except BodyTooLarge:
        return problem(413, f"the file is larger than the limit of {limit} bytes")
    except EvidenceError as exc:
        return problem(exc.status, str(exc))
    created = stored.pop("created")
    try:
        await wiring.pool.execute(RECORD, *stored.values(), datetime.now(UTC), principal.partner)
    except UNAVAILABLE:
        return unavailable("the file is stored but not indexed (database unavailable); retry")
    return JSONAnswer(stored, status_code=201 if created else 200)


def _store(storage: EvidenceStorage, upload: UploadFile, limit: int) -> dict[str, Any]:
    upload.file.seek(0)
    return dict(store_evidence(storage, upload.file, limit))
