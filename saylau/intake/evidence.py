"""The intake's evidence step: every file a report names must have been uploaded first.

A report binds files by hash (``evidence`` in its envelope, or the payload of
``evidence.attached``); a hash ingest has not stored (``evidence_files``) is refused with a
422 naming the item, so the log never points at a file nobody can produce.
"""
from __future__ import annotations

from typing import Any

import asyncpg

from saylau.catalogue import FieldError
from saylau.domain.vocabulary import EVIDENCE_ATTACHED
from saylau.intake.outcome import Outcome, Pending


def named_files(p: Pending) -> list[tuple[tuple[Any, ...], str]]:
    """Each file the item names, with where: ``("evidence", i, "sha256")`` or under payload."""
    named = [(("evidence", i, "sha256"), item.sha256)
             for i, item in enumerate(p.envelope.evidence or [])]
    if p.envelope.type == EVIDENCE_ATTACHED:
        named += [(("payload", "evidence", i, "sha256"), item["sha256"])
                  for i, item in enumerate(p.envelope.payload["evidence"])]
    return named


async def refuse_unknown_evidence(pool: asyncpg.Pool, pending: list[Pending],
                                  outcomes: list[Outcome | None]) -> None:
    """A 422 outcome for each item naming a file that is not stored (one query for all)."""
    named = {p.index: named_files(p) for p in pending}
    hashes = sorted({sha for files in named.values() for _, sha in files})
    if not hashes:
        return
    rows = await pool.fetch("SELECT sha256 FROM evidence_files WHERE sha256 = ANY($1::text[])",
                            hashes)
    stored = {r["sha256"] for r in rows}
    for p in pending:
        errors = [FieldError(loc, f"no evidence file {sha} was uploaded (POST /v1/evidence)")
                  for loc, sha in named[p.index] if sha not in stored]
        if errors and outcomes[p.index] is None:
            outcomes[p.index] = Outcome(422, "rejected", str(p.envelope.event_id), errors)
