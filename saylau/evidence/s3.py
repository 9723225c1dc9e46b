"""Evidence objects in an S3-compatible store (``EVIDENCE_URL=s3://bucket/prefix``), via boto3.

Keys are ``<prefix>/ab/cd/<sha256>``. An upload is spooled to a temporary file while it is
hashed (its name is its hash, known only at the end), then sent with boto3's managed
transfer, which switches to multipart uploads for large files; memory stays bounded.
Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, profiles, instance roles); ``EVIDENCE_S3_ENDPOINT`` points at a
non-AWS server (MinIO, Ceph, S3Proxy).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from saylau.evidence.errors import EvidenceNotFound
from saylau.evidence.storage import CHUNK, ByteRange, Source, check_digest, chunks_of, shard

SPOOL_IN_MEMORY = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK,
                          max_concurrency=2, io_chunksize=256 * 1024)
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"EVIDENCE_URL must look like s3://bucket/prefix, not {url!r}")
    return parsed.netloc, parsed.path.strip("/")


def s3_client(endpoint: str | None = None, region: str | None = None) -> Any:
    """A boto3 S3 client; path-style addressing so plain host:port endpoints work."""
    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                    retries={"max_attempts": 5, "mode": "standard"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None,
                                          region_name=region or "us-east-1", config=config)


class S3EvidenceStorage:
    """Content-addressed objects in one bucket under one key prefix."""

    def __init__(self, url: str, endpoint: str | None = None, client: Any = None) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.client = client or s3_client(endpoint)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}/{shard(sha256)}" if self.prefix else shard(sha256)

    def put(self, data: Source) -> str:
        digest = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            for chunk in chunks_of(data):
                digest.update(chunk)
                spool.write(chunk)
            sha256 = digest.hexdigest()
            if not self.exists(sha256):
                spool.seek(0)
                self.client.upload_fileobj(spool, self.bucket, self.key(sha256),
                                           Config=TRANSFER)
        return sha256

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        extra = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256),
                                          **extra)["Body"]
        except ClientError as error:
            raise self._translate(error, sha256) from None
        return self._stream(body)

    @staticmethod
    def _stream(body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def exists(self, sha256: str) -> bool:
        try:
            self.size(sha256)
        except EvidenceNotFound:
            return False
        return True

    def size(self, sha256: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as error:
            raise self._translate(error, sha256) from None
        return int(head["ContentLength"])

    def put_record(self, sha256: str, record: dict[str, Any]) -> None:
        check_digest(sha256)
        self.client.put_object(Bucket=self.bucket, Key=self.key(sha256) + ".json",
                               Body=json.dumps(record, sort_keys=True).encode(),
                               ContentType="application/json")

    def record(self, sha256: str) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket,
                                          Key=self.key(sha256) + ".json")["Body"]
        except ClientError as error:
            if _code(error) in NOT_FOUND:
                return None
            raise
        with body:
            return json.loads(body.read())

    @staticmethod
    def _translate(error: ClientError, sha256: str) -> Exception:
        if _code(error) in NOT_FOUND:
            return EvidenceNotFound(f"no evidence file {sha256}")
        return error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
