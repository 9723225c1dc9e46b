"""Storing one uploaded file: limit, sniff, clean, store original and derivative, record."""
from __future__ import annotations

import hashlib
import tempfile
from typing import IO, Any, TypedDict

from saylau.evidence.errors import EvidenceTooLarge
from saylau.evidence.media import IMAGES, SNIFF_BYTES, sniff_media_type
from saylau.evidence.privacy import strip_metadata
from saylau.evidence.storage import EvidenceStorage, Source, chunks_of

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SPOOL_IN_MEMORY = 1024 * 1024


class StoredEvidence(TypedDict):
    """The upload's answer; ``created`` is False when the same bytes were stored before."""

    sha256: str
    bytes: int
    media_type: str
    derivative_sha256: str | None
    created: bool


def store_evidence(storage: EvidenceStorage, data: Source,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> StoredEvidence:
    """Stores a file and, for photos, its metadata-free derivative beside it.

    ``EvidenceTooLarge`` (413) past ``max_bytes``; ``UnsupportedMediaType`` (415) unless the
    content is JPEG, PNG, HEIC, MP4 or PDF. Storing the same bytes again changes nothing.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        sha256, size = _spool(data, spool, max_bytes)
        spool.seek(0)
        media_type = sniff_media_type(spool.read(SNIFF_BYTES))
        known = storage.record(sha256)
        if known is not None and storage.exists(sha256):
            return _answer(sha256, size, media_type, known.get("derivative_sha256"), False)
        derivative = _derive(spool, media_type)
        spool.seek(0)
        storage.put(spool)
        derivative_sha256 = _put_derivative(storage, derivative, sha256)
        storage.put_record(sha256, {"sha256": sha256, "bytes": size, "media_type": media_type,
                                    "derivative_sha256": derivative_sha256})
        return _answer(sha256, size, media_type, derivative_sha256, True)


def _spool(data: Source, spool: IO[bytes], max_bytes: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks_of(data):
        size += len(chunk)
        if size > max_bytes:
            raise EvidenceTooLarge(f"the file is larger than the limit of {max_bytes} bytes")
        digest.update(chunk)
        spool.write(chunk)
    return digest.hexdigest(), size


def _derive(spool: IO[bytes], media_type: str) -> tuple[bytes, str] | None:
    if media_type not in IMAGES:
        return None
    spool.seek(0)
    return strip_metadata(spool, media_type)


def _put_derivative(storage: EvidenceStorage, derivative: tuple[bytes, str] | None,
                    original: str) -> str | None:
    if derivative is None:
        return None
    content, media_type = derivative
    sha256 = storage.put(content)
    storage.put_record(sha256, {"sha256": sha256, "bytes": len(content),
                                "media_type": media_type, "derivative_of": original})
    return sha256


def _answer(sha256: str, size: int, media_type: str, derivative_sha256: Any,
            created: bool) -> StoredEvidence:
    return StoredEvidence(sha256=sha256, bytes=size, media_type=media_type,
                          derivative_sha256=derivative_sha256, created=created)


def servable_record(storage: EvidenceStorage, sha256: str,
                    may_see_original: bool) -> dict[str, Any]:
    """The record of the file ``GET /v1/evidence/{sha256}`` may serve to this key.

    ``audit``/``admin`` keys (``may_see_original``) get the file itself. Other read keys get
    the derivative of a photo; asking for a photo's original without the scope raises
    ``OriginalWithheld`` (403). Video and PDF have no derivative and are served as stored;
    a derivative's own name is always readable. ``EvidenceNotFound`` (404) if unknown.
    """
    from saylau.evidence.errors import EvidenceNotFound, OriginalWithheld

    record = storage.record(sha256)
    if record is None or not storage.exists(sha256):
        raise EvidenceNotFound(f"no evidence file {sha256}")
    if may_see_original or not record.get("derivative_sha256"):
        return record
    raise OriginalWithheld(
        f"the original of {sha256} needs an audit or admin key; its metadata-free copy is "
        f"{record['derivative_sha256']}")
