"""One contract for every ``EvidenceStorage`` adapter; subclasses provide ``storage``."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from saylau.evidence import (
    EvidenceNotFound,
    EvidenceStorage,
    InvalidDigest,
    Reference,
    store_evidence,
    verify_files,
)
from tests.evidence_files import jpeg_with_gps, minimal_mp4


class EvidenceStorageContract:
    """Store, read, range-read, size, records and verify, whatever the backend."""

    def test_put_names_the_file_by_its_sha256_and_reads_it_back(
            self, storage: EvidenceStorage) -> None:
        data = os.urandom(3000)
        name = storage.put(data)
        assert name == hashlib.sha256(data).hexdigest()
        assert storage.exists(name) and storage.size(name) == 3000
        assert b"".join(storage.open(name)) == data

    def test_a_stream_larger_than_one_chunk_is_stored_whole(
            self, storage: EvidenceStorage) -> None:
        data = os.urandom(9 * 1024 * 1024 + 17)     # crosses the multipart threshold on S3
        name = storage.put(io.BytesIO(data))
        assert name == hashlib.sha256(data).hexdigest()
        assert storage.size(name) == len(data)
        assert hashlib.sha256(b"".join(storage.open(name))).hexdigest() == name

    def test_storing_the_same_bytes_twice_is_one_file(self, storage: EvidenceStorage) -> None:
        data = os.urandom(100)
        assert storage.put(data) == storage.put(io.BytesIO(data))
        assert b"".join(storage.open(hashlib.sha256(data).hexdigest())) == data

    def test_range_reads_return_exactly_the_inclusive_bytes(
            self, storage: EvidenceStorage) -> None:
        data = bytes(range(256)) * 8
        name = storage.put(data)
        assert b"".join(storage.open(name, (10, 19))) == data[10:20]
        assert b"".join(storage.open(name, (2040, 2047))) == data[2040:]
        assert b"".join(storage.open(name, (0, 0))) == data[:1]

    def test_unknown_names_are_not_found(self, storage: EvidenceStorage) -> None:
        unknown = hashlib.sha256(b"never stored " + os.urandom(8)).hexdigest()
        assert not storage.exists(unknown)
        assert storage.record(unknown) is None
        with pytest.raises(EvidenceNotFound):
            storage.size(unknown)
        with pytest.raises(EvidenceNotFound):
            storage.open(unknown)

    def test_names_that_are_not_sha256_are_refused(self, storage: EvidenceStorage) -> None:
        for bad in ("../../etc/passwd", "ABCDEF" * 10 + "ABCD", "a" * 63):
            with pytest.raises(InvalidDigest):
                storage.exists(bad)

    def test_records_are_stored_beside_the_file(self, storage: EvidenceStorage) -> None:
        name = storage.put(os.urandom(10))
        storage.put_record(name, {"media_type": "video/mp4", "bytes": 10})
        assert storage.record(name) == {"media_type": "video/mp4", "bytes": 10}

    def test_store_evidence_keeps_original_and_clean_derivative(
            self, storage: EvidenceStorage) -> None:
        photo = jpeg_with_gps(seed=os.urandom(4))
        first = store_evidence(storage, io.BytesIO(photo))
        again = store_evidence(storage, photo)
        assert first["created"] and not again["created"]
        assert {k: v for k, v in again.items() if k != "created"} == \
            {k: v for k, v in first.items() if k != "created"}
        assert b"".join(storage.open(first["sha256"])) == photo
        derivative = b"".join(storage.open(first["derivative_sha256"]))
        assert b"GPS" not in derivative and b"Exif" not in derivative
        assert storage.record(first["derivative_sha256"])["derivative_of"] == first["sha256"]

    def test_video_is_stored_without_derivative(self, storage: EvidenceStorage) -> None:
        stored = store_evidence(storage, minimal_mp4(os.urandom(16)))
        assert stored["media_type"] == "video/mp4" and stored["derivative_sha256"] is None

    def test_verify_passes_intact_files_and_names_missing_ones(
            self, storage: EvidenceStorage) -> None:
        kept = storage.put(os.urandom(50))
        gone = hashlib.sha256(os.urandom(50)).hexdigest()
        problems = verify_files(storage, [Reference("e-1", kept), Reference("e-2", gone)])
        assert [(p.event_id, p.sha256, p.problem) for p in problems] == \
            [("e-2", gone, "missing")]
