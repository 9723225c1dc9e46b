"""``verify --checkpoints``: read a checkpoints file and report, per checkpoint, its proof."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from saylau.audit.verify import LogAudit
from saylau.checkpoint import CheckpointAudit, key_id, marks_in, signature_problem


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
