"""Evidence attachments: content-addressed storage, media sniffing, privacy derivatives.

Entry points for the services:
- ``evidence_storage()`` → the configured ``EvidenceStorage`` (local dir or S3);
- ``store_evidence(storage, stream, max_bytes)`` → ``StoredEvidence`` for ``POST /v1/evidence``;
- ``servable_record`` + ``parse_range`` + ``storage.open`` for ``GET /v1/evidence/{sha256}``;
- ``references_in`` + ``verify_files`` for ``saylau verify --evidence``;
- ``write_export_tar`` for ``saylau export`` with files.
Every refusal is an ``EvidenceError`` whose ``status`` is the HTTP answer.
"""
from __future__ import annotations

from saylau.evidence.audit import (
    Mismatch,
    Reference,
    references_in,
    verify_files,
    write_export_tar,
)
from saylau.evidence.errors import (
    EvidenceError,
    EvidenceNotFound,
    EvidenceTooLarge,
    InvalidDigest,
    OriginalWithheld,
    RangeNotSatisfiable,
    UnsupportedMediaType,
)
from saylau.evidence.local import LocalEvidenceStorage
from saylau.evidence.media import ALLOWED, sniff_media_type
from saylau.evidence.privacy import strip_metadata
from saylau.evidence.s3 import S3EvidenceStorage
from saylau.evidence.service import StoredEvidence, servable_record, store_evidence
from saylau.evidence.settings import evidence_storage
from saylau.evidence.storage import EvidenceStorage, check_digest, parse_range

__all__ = [
    "ALLOWED", "EvidenceError", "EvidenceNotFound", "EvidenceStorage",
    "EvidenceTooLarge", "InvalidDigest", "LocalEvidenceStorage", "Mismatch", "OriginalWithheld",
    "RangeNotSatisfiable", "Reference", "S3EvidenceStorage", "StoredEvidence",
    "UnsupportedMediaType", "check_digest", "evidence_storage", "parse_range",
    "references_in", "servable_record", "sniff_media_type", "store_evidence", "strip_metadata",
    "verify_files", "write_export_tar",
]
