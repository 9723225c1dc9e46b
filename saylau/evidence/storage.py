"""The content-addressed storage contract shared by the local and the S3 adapter.

A file is named by the lowercase hex SHA-256 of its bytes, so a name is also a checksum:
storing the same bytes twice stores them once, and ``verify`` can tell a tampered file.
Beside each file the store may keep a small JSON *record* (media type, size, derivative),
written last, so that its presence means the upload completed.

The methods block (file or network I/O); async routes call them through a thread
(``anyio.to_thread.run_sync``), and Starlette's ``StreamingResponse`` iterates the
synchronous chunk iterator of ``open`` in a thread by itself.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import IO, Any, Protocol

from saylau.evidence.errors import InvalidDigest

CHUNK = 1024 * 1024
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")

ByteRange = tuple[int, int]
"""First and last byte offset, both inclusive, as in an HTTP ``Range`` header."""

Source = bytes | IO[bytes]


class EvidenceStorage(Protocol):
    """Where evidence bytes live; implementations: ``LocalEvidenceStorage``, ``S3EvidenceStorage``."""

    def put(self, data: Source) -> str:
        """Stores the bytes (read in chunks from a stream) and returns their SHA-256."""

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        """The file's bytes (or the inclusive range) in chunks; ``EvidenceNotFound`` if absent."""

    def exists(self, sha256: str) -> bool:
        """True if a file is stored under this name."""

    def size(self, sha256: str) -> int:
        """The stored file's length in bytes; ``EvidenceNotFound`` if absent."""

    def put_record(self, sha256: str, record: dict[str, Any]) -> None:
        """Stores the JSON record beside the file (replacing an earlier one)."""

    def record(self, sha256: str) -> dict[str, Any] | None:
        """The JSON record stored beside the file, or None."""


def check_digest(sha256: str) -> str:
    """The name itself if it is a lowercase hex SHA-256; ``InvalidDigest`` otherwise."""
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256):
        raise InvalidDigest(f"not a SHA-256 (64 lowercase hex characters): {sha256!r}")
    return sha256


def shard(sha256: str) -> str:
    """``ab/cd/abcd…``: two directory levels keep any one directory small."""
    check_digest(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def chunks_of(data: Source) -> Iterator[bytes]:
    """The source in chunks of at most ``CHUNK`` bytes, without reading a stream whole."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start:start + CHUNK])
        return
    while chunk := data.read(CHUNK):
        yield chunk


def sha256_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    """The SHA-256 and length of a chunk stream."""
    digest, total = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The inclusive byte range a single-range ``Range: bytes=…`` header asks for.

    None means the whole file (no header, or one we ignore as RFC 9110 §14.2 allows:
    another unit or several ranges). ``RangeNotSatisfiable`` when it selects no byte.
    """
    from saylau.evidence.errors import RangeNotSatisfiable

    if not header or not header.strip().startswith("bytes=") or "," in header:
        return None
    spec = header.strip()[len("bytes="):].strip()
    first_text, dash, last_text = spec.partition("-")
    if not dash or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:                     # bytes=-N: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {header!r} selects no byte of {size}")
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text.isdigit() else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(f"range {header!r} starts past the end ({size} bytes)")
    return first, min(last, size - 1)
