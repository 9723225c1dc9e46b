"""Evidence files in a local directory, ``<root>/ab/cd/<sha256>`` (default ``var/evidence``)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from saylau.evidence.errors import EvidenceNotFound
from saylau.evidence.storage import CHUNK, ByteRange, Source, check_digest, chunks_of, shard


class LocalEvidenceStorage:
    """Content-addressed files on a local disk; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def path(self, sha256: str) -> Path:
        """Where the file of this name lives (whether or not it is there)."""
        return self.root / shard(sha256)

    def put(self, data: Source) -> str:
        self._tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks_of(data):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            self._move_into_place(Path(tmp_name), self.path(sha256))
            return sha256
        finally:
            Path(tmp_name).unlink(missing_ok=True)

    def _move_into_place(self, tmp: Path, final: Path) -> None:
        if final.exists() and final.stat().st_size == tmp.stat().st_size:
            return                         # same name, same length: the same bytes already
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)

    def open(self, sha256: str, byte_range: ByteRange | None = None) -> Iterator[bytes]:
        handle = self._open_file(sha256)
        return self._read(handle, byte_range)

    def _open_file(self, sha256: str) -> IO[bytes]:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise EvidenceNotFound(f"no evidence file {sha256}") from None

    @staticmethod
    def _read(handle: IO[bytes], byte_range: ByteRange | None) -> Iterator[bytes]:
        with handle:
            first, last = byte_range if byte_range else (0, None)
            handle.seek(first)
            left = None if last is None else last - first + 1
            while left is None or left > 0:
                chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise EvidenceNotFound(f"no evidence file {sha256}") from None

    def put_record(self, sha256: str, record: dict[str, Any]) -> None:
        check_digest(sha256)
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="record-")
        with os.fdopen(fd, "wb") as out:
            out.write(json.dumps(record, sort_keys=True).encode())
            out.flush()
            os.fsync(out.fileno())
        final = self._record_path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, final)

    def record(self, sha256: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._record_path(sha256).read_bytes())
        except FileNotFoundError:
            return None

    def _record_path(self, sha256: str) -> Path:
        return self.root / f"{shard(sha256)}.json"
