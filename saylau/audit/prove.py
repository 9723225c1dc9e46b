"""``verify --checkpoints``: read a checkpoints file and report, per checkpoint, its proof."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from saylau.audit.verify import Finding, LogAudit
from saylau.log.checkpoint import Head, Mark, head_of, key_id, marks_in, signature_problem
from saylau.log.decode import Message


def load_checkpoints(path: Path) -> list[dict[str, Any]]:
    """The checkpoints of a JSON-lines file, in file order."""
    found = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                parsed = orjson.loads(line)
                marks_in(parsed)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError,
                    AttributeError) as exc:
                raise ValueError(f"{path}: line {number} is not a checkpoint ({exc})") from None
            found.append(parsed)
    if not found:
        raise ValueError(f"{path}: no checkpoint in the file")
    return found


def report_checkpoints(anchors: CheckpointAudit, audit: LogAudit, topic: str,
                       pinned: str | None) -> int:
    """One line per checkpoint: proven, or the first partition offset it cannot vouch for."""
    chain = audit.findings()
    failed = 0
    for checkpoint in anchors.checkpoints:
        named = f"checkpoint {checkpoint.get('taken_at')}"
        problem = signature_problem(checkpoint, pinned)
        if problem is None and checkpoint.get("topic") != topic:
            problem = f"for topic {checkpoint.get('topic')!r}, not {topic!r}"
        findings = [] if problem else anchors.findings(checkpoint, chain)
        if problem or findings:
            failed += 1
            print(f"{named}: NOT PROVEN: {problem or findings[0]}")
            for finding in findings[1:]:
                print(f"  {finding}")
            continue
        ends = ", ".join(f"{m.partition}:{m.offset}" for m in marks_in(checkpoint))
        print(f"{named}: proven (key {key_id(checkpoint['public_key'])}; offsets {ends})")
    print(f"{len(anchors.checkpoints) - failed}/{len(anchors.checkpoints)} checkpoints proven"
          + ("" if pinned else " (signatures checked against the keys they name; pass "
             "--public-key to pin the operator's published key)"))
    return 1 if failed else 0


@dataclass
class CheckpointAudit:
    """Proves the log still holds everything up to each checkpoint.

    Fed the log in partition order with ``check`` (beside a ``LogAudit``), it keeps how far
    each partition reaches and the chain link found at each checkpointed head; ``findings``
    then names, per checkpoint, the first partition offset it cannot vouch for: the log ends
    before the checkpoint's offset (a deleted tail), the head record differs (rewritten), or
    the chain itself breaks before the checkpoint's offset.
    """

    checkpoints: list[dict[str, Any]]
    _reach: dict[int, int] = field(default_factory=dict)
    _seen: dict[tuple[int, int], Head | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._wanted = {(m.partition, m.head.offset) for c in self.checkpoints
                        for m in marks_in(c) if m.head}

    def check(self, message: Message) -> None:
        p = message.partition
        self._reach[p] = max(self._reach.get(p, -1), message.offset)
        if (p, message.offset) in self._wanted:
            self._seen[(p, message.offset)] = head_of(message)

    def findings(self, checkpoint: dict[str, Any], chain: list[Finding]) -> list[Finding]:
        """What stops ``checkpoint`` being proven, given the chain findings of the log."""
        found = []
        for mark in marks_in(checkpoint):
            problem = self._mark_problem(mark, chain)
            if problem is not None:
                found.append(problem)
        return found

    def _mark_problem(self, mark: Mark, chain: list[Finding]) -> Finding | None:
        p, reach = mark.partition, self._reach.get(mark.partition, -1)
        broken = [f for f in chain if f.partition == p and f.offset < mark.offset]
        if broken:
            return Finding(p, broken[0].offset, broken[0].kind, broken[0].detail)
        if reach < mark.offset - 1:
            return Finding(p, reach + 1, "missing", f"the log ends at offset {reach}; the "
                           f"checkpoint saw records up to offset {mark.offset - 1}")
        if mark.head is None:
            return None
        if (p, mark.head.offset) not in self._seen:
            return Finding(p, mark.head.offset, "missing", "the checkpoint's head record is "
                           "not in the log")
        seen = self._seen[(p, mark.head.offset)]
        if seen != mark.head:
            what = "has no chain link" if seen is None else f"has chain {seen.chain_id[:8]} " \
                f"seq {seen.seq} hash {seen.hash[:16]}…"
            return Finding(p, mark.head.offset, "altered", f"the checkpoint's head is chain "
                           f"{mark.head.chain_id[:8]} seq {mark.head.seq} hash "
                           f"{mark.head.hash[:16]}…; the log {what}")
        return None
