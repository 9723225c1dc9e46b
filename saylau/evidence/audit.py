"""Checking stored evidence against the log, and packing it into an export tar."""
from __future__ import annotations

import hashlib
import io
import tarfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from saylau.evidence.errors import EvidenceNotFound
from saylau.evidence.storage import SHA256_PATTERN, EvidenceStorage


@dataclass(frozen=True)
class Reference:
    """One file named by one event of the log."""

    event_id: str
    sha256: str


@dataclass(frozen=True)
class Mismatch:
    """A referenced file that is missing or whose bytes no longer hash to its name."""

    event_id: str
    sha256: str
    problem: str                           # "missing" | "hash mismatch" | "invalid name"
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"event {self.event_id}: evidence {self.sha256} {self.problem}{extra}"


def references_in(event: dict[str, Any]) -> list[Reference]:
    """The files an event of the log names: its envelope's ``evidence`` list, and the
    ``evidence`` of an ``evidence.attached`` payload (named by the attaching event)."""
    items = list(event.get("evidence") or [])
    if event.get("type") == "evidence.attached":
        items += list((event.get("payload") or {}).get("evidence") or [])
    event_id = str(event.get("event_id"))
    return [Reference(event_id, str(item.get("sha256"))) for item in items
            if isinstance(item, dict)]


def verify_files(storage: EvidenceStorage, references: Iterable[Reference]) -> list[Mismatch]:
    """Every mismatch, one per referencing event; each file is hashed once however often named.

    A photo's privacy derivative (named in the original's record) is checked with it and
    reported under the derivative's own name.
    """
    verdicts: dict[str, list[tuple[str, str, str]]] = {}
    mismatches = []
    for ref in references:
        if ref.sha256 not in verdicts:
            verdicts[ref.sha256] = _check_with_derivative(storage, ref.sha256)
        mismatches += [Mismatch(ref.event_id, *verdict) for verdict in verdicts[ref.sha256]]
    return mismatches


def _check_with_derivative(storage: EvidenceStorage, sha256: str) -> list[tuple[str, str, str]]:
    problems = []
    if (verdict := _check(storage, sha256)) is not None:
        problems.append((sha256, *verdict))
    record = storage.record(sha256) if SHA256_PATTERN.match(sha256) else None
    derivative = (record or {}).get("derivative_sha256")
    if derivative and (verdict := _check(storage, derivative)) is not None:
        problem, detail = verdict
        problems.append((derivative, problem, f"privacy derivative of {sha256}"
                         + (f"; {detail}" if detail else "")))
    return problems


def _check(storage: EvidenceStorage, sha256: str) -> tuple[str, str] | None:
    if not SHA256_PATTERN.match(sha256):
        return "invalid name", "not 64 lowercase hex characters"
    try:
        actual = hashlib.sha256()
        for chunk in storage.open(sha256):
            actual.update(chunk)
    except EvidenceNotFound:
        return "missing", ""
    if actual.hexdigest() != sha256:
        return "hash mismatch", f"content hashes to {actual.hexdigest()}"
    return None


class _ChunkReader(io.RawIOBase):
    """A read-only file over a chunk iterator, so tarfile can stream a stored file."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def write_export_tar(out: IO[bytes], ndjson: IO[bytes], storage: EvidenceStorage,
                     sha256s: Iterable[str], ndjson_name: str = "events.ndjson") -> list[str]:
    """Streams a tar of the NDJSON export and ``evidence/<sha256>`` for each stored file.

    ``ndjson`` must be seekable (a temporary file): a tar header carries the size first.
    Returns the names that were not stored (the export still completes; verify reports them).
    """
    missing = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        ndjson.seek(0, io.SEEK_END)
        _add(tar, ndjson_name, ndjson.tell(), _rewound(ndjson))
        for sha256 in dict.fromkeys(sha256s):
            try:
                size = storage.size(sha256)
            except EvidenceNotFound:
                missing.append(sha256)
                continue
            _add(tar, f"evidence/{sha256}", size, _ChunkReader(storage.open(sha256)))
    return missing


def _rewound(stream: IO[bytes]) -> IO[bytes]:
    stream.seek(0)
    return stream


def _add(tar: tarfile.TarFile, name: str, size: int, content: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o444
    tar.addfile(info, content)
