"""The storage contract against a real S3-compatible server (S3Proxy from Maven Central)."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from saylau.evidence import (
    Reference,
    S3EvidenceStorage,
    evidence_storage,
    store_evidence,
    verify_files,
)
from saylau.settings import Settings
from tests.evidence_contract import EvidenceStorageContract
from tests.evidence_files import minimal_mp4
from tests.integration.conftest import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def configured(s3_server: S3Server) -> Iterator[S3EvidenceStorage]:
    """The store built from settings and the usual AWS variables, as a deployment does."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        storage = evidence_storage(Settings(
            evidence_url="s3://evidence/saylau/evidence",
            evidence_s3_endpoint=s3_server.endpoint))
    assert isinstance(storage, S3EvidenceStorage)
    yield storage


def create_bucket(storage: S3EvidenceStorage) -> None:
    """The storage's bucket (the operator creates it in production)."""
    storage.client.create_bucket(Bucket=storage.bucket)


class TestS3EvidenceStorage(EvidenceStorageContract):
    @pytest.fixture
    def storage(self, configured: S3EvidenceStorage) -> S3EvidenceStorage:
        """A bucket of its own per test (one client for all: creating one takes a second)."""
        bucket = f"ev-{uuid.uuid4().hex[:12]}"
        storage = S3EvidenceStorage(f"s3://{bucket}/saylau/evidence",
                                    client=configured.client)
        create_bucket(storage)
        return storage

    def test_objects_live_under_the_prefix_by_hash(self, storage: S3EvidenceStorage) -> None:
        name = storage.put(b"station 12 closed at 14:00")
        listed = storage.client.list_objects_v2(Bucket=storage.bucket)["Contents"]
        files = [o["Key"] for o in listed if not o["Key"].endswith("/")]   # not dir markers
        assert files == [f"saylau/evidence/{name[:2]}/{name[2:4]}/{name}"]

    def test_a_tampered_object_is_named_by_verify(self, storage: S3EvidenceStorage) -> None:
        stored = store_evidence(storage, minimal_mp4(b"stuffing"))
        storage.client.put_object(Bucket=storage.bucket, Key=storage.key(stored["sha256"]),
                                  Body=minimal_mp4(b"nothing"))
        problems = verify_files(storage, [Reference("ev-9", stored["sha256"])])
        assert [(p.event_id, p.sha256, p.problem) for p in problems] == \
            [("ev-9", stored["sha256"], "hash mismatch")]
        assert hashlib.sha256(minimal_mp4(b"nothing")).hexdigest() in problems[0].detail


def test_wrong_credentials_are_refused(s3_server: S3Server,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The server really checks the signature: the key is not decoration."""
    from botocore.exceptions import ClientError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    storage = evidence_storage(Settings(evidence_url="s3://whatever/x",
                                                evidence_s3_endpoint=s3_server.endpoint))
    with pytest.raises(ClientError):
        create_bucket(storage)
