"""The evidence store the settings name (``EVIDENCE_DIR``, ``EVIDENCE_URL``,
``EVIDENCE_S3_ENDPOINT``; ``EVIDENCE_MAX_BYTES`` is the upload limit), all in ``Settings``."""
from __future__ import annotations

from saylau.evidence.local import LocalEvidenceStorage
from saylau.evidence.s3 import S3EvidenceStorage
from saylau.evidence.storage import EvidenceStorage
from saylau.settings import Settings


def evidence_storage(settings: Settings | None = None) -> EvidenceStorage:
    """S3 when ``EVIDENCE_URL=s3://bucket/prefix`` is set, else files under ``EVIDENCE_DIR``.

    Blocking (a boto3 client takes about a second to build): ``bootstrap`` builds it once,
    in a thread.
    """
    settings = settings or Settings()
    if settings.evidence_url:
        return S3EvidenceStorage(settings.evidence_url, settings.evidence_s3_endpoint or None)
    return LocalEvidenceStorage(settings.evidence_dir)
