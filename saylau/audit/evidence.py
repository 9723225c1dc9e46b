"""``saylau verify --evidence`` and ``saylau export --with-evidence``: the log's files.

The pure checks live in ``saylau.evidence.audit``; this module reads the log's records for
their references and runs the blocking store calls in a thread.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import orjson

from saylau.evidence import (
    EvidenceStorage,
    Mismatch,
    Reference,
    evidence_storage,
    references_in,
    verify_files,
    write_export_tar,
)
from saylau.settings import Settings


def references_of(value: bytes) -> list[Reference]:
    """The files one log record names (none for a record that is not a JSON object)."""
    try:
        record: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return []
    return references_in(record) if isinstance(record, dict) else []


async def storage_of(cfg: Settings) -> EvidenceStorage:
    return await anyio.to_thread.run_sync(evidence_storage, cfg)


async def check_files(cfg: Settings, references: list[Reference]) -> list[Mismatch]:
    """Every referenced file that is missing or no longer hashes to its name."""
    storage = await storage_of(cfg)
    return await anyio.to_thread.run_sync(verify_files, storage, references)


def export_line_refs(line: bytes) -> list[Reference]:
    """The files named by one NDJSON export line (``{"record": {...}, ...}``)."""
    try:
        record = orjson.loads(line).get("record")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    return references_in(record) if isinstance(record, dict) else []


async def tar_with_files(cfg: Settings, ndjson: Any, target: Path) -> tuple[int, list[str]]:
    """Writes ``target``: the NDJSON as ``events.ndjson`` and ``evidence/<sha256>`` for each
    file it names. Returns the number of files named and those the store did not have."""
    ndjson.seek(0)
    names = [ref.sha256 for line in ndjson for ref in export_line_refs(line)]
    storage = await storage_of(cfg)

    def write() -> list[str]:
        with target.open("wb") as out:
            return write_export_tar(out, ndjson, storage, names)

    missing = await anyio.to_thread.run_sync(write)
    return len(set(names)), missing


def spool() -> Any:
    """A temporary file for the NDJSON while the tar is built (the tar needs its size)."""
    return tempfile.TemporaryFile()
