"""Typed refusals of the evidence store; each carries the HTTP status a route answers with."""
from __future__ import annotations


class EvidenceError(Exception):
    """Base of every evidence refusal; ``status`` is the HTTP answer, ``str()`` the detail."""

    status = 400


class UnsupportedMediaType(EvidenceError):
    """The content is not JPEG, PNG, HEIC, MP4 or PDF (whatever the file name or header say)."""

    status = 415


class EvidenceTooLarge(EvidenceError):
    """The upload exceeds ``EVIDENCE_MAX_BYTES`` (or an image has too many pixels to clean)."""

    status = 413


class EvidenceNotFound(EvidenceError):
    """No file is stored under this SHA-256."""

    status = 404


class RangeNotSatisfiable(EvidenceError):
    """A ``Range`` header that selects no byte of the file."""

    status = 416


class InvalidDigest(EvidenceError):
    """A string that is not a lowercase hex SHA-256 (64 characters)."""

    status = 422


class OriginalWithheld(EvidenceError):
    """A photo's original (with its metadata) asked for by a key without audit/admin scope."""

    status = 403
