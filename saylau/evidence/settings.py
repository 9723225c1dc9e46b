"""Evidence storage settings (to be folded into ``saylau.settings.Settings`` on merge)."""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from saylau.evidence.local import LocalEvidenceStorage
from saylau.evidence.s3 import S3EvidenceStorage
from saylau.evidence.service import DEFAULT_MAX_BYTES
from saylau.evidence.storage import EvidenceStorage


class EvidenceSettings(BaseSettings):
    """``EVIDENCE_DIR``, ``EVIDENCE_URL``, ``EVIDENCE_S3_ENDPOINT``, ``EVIDENCE_MAX_BYTES``."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    evidence_dir: str = "var/evidence"
    evidence_url: str = ""
    evidence_s3_endpoint: str = ""
    evidence_max_bytes: int = DEFAULT_MAX_BYTES


def evidence_storage(settings: EvidenceSettings | None = None) -> EvidenceStorage:
    """S3 when ``EVIDENCE_URL=s3://bucket/prefix`` is set, else files under ``EVIDENCE_DIR``."""
    settings = settings or EvidenceSettings()
    if settings.evidence_url:
        return S3EvidenceStorage(settings.evidence_url, settings.evidence_s3_endpoint or None)
    return LocalEvidenceStorage(settings.evidence_dir)
