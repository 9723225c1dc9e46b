"""Tamper evidence check: content hashes, hash chains and offsets, record by record. Pure.

``LogAudit`` is fed the log in order and keeps the first finding per partition, classified
as ``altered`` (content or chain hash wrong), ``missing`` (a chain skips a link, or an export
ends before the high watermark its header records) or ``reordered`` (offsets out of order,
or a skipped link turning up later). Altered content hashes are reported for every record.

What a chain cannot show: a deleted *tail* of a partition (compare the final chain heads
``LogAudit.heads`` with a published copy), or the removal of a whole chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from saylau.audit.logsource import Extent, parse_record
from saylau.envelope import content_hash, stored_envelope
from saylau.log.chain import ChainVerifier
from saylau.log.decode import Message


@dataclass(frozen=True)
class Finding:
    partition: int
    offset: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"partition {self.partition} offset {self.offset}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Copy:
    """A record carrying an event id an earlier record of the log already carried."""

    partition: int
    offset: int
    event_id: str
    first: tuple[int, int]
    """Partition and offset of the first record with that id."""
    same_content: bool

    def __str__(self) -> str:
        what = "a copy" if self.same_content else "ANOTHER CONTENT under the id"
        return (f"partition {self.partition} offset {self.offset}: duplicate: {what} of event "
                f"{self.event_id} first at partition {self.first[0]} offset {self.first[1]}")


@dataclass
class Copies:
    """Finds records whose event id came earlier in the log: a re-send appended twice when
    ingest could not record the first in its dedup table (PostgreSQL failed after the broker
    acknowledged it). The read models count such an event once; exports mark the copy."""

    found: list[Copy] = field(default_factory=list)
    _first: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def see(self, message: Message, record: dict[str, Any] | None) -> Copy | None:
        """The copy ``message`` is, or None (the first record of its id, or no id)."""
        event_id = record.get("event_id") if record else None
        if not isinstance(event_id, str):
            return None
        here = (message.partition, message.offset)
        first = self._first.setdefault(event_id, (*here, str(record.get("content_hash"))))
        if first[:2] == here:
            return None
        copy = Copy(*here, event_id, first[:2], first[2] == record.get("content_hash"))
        self.found.append(copy)
        return copy


@dataclass
class _Gap:
    """A chain that skipped from ``expected`` to ``found`` at ``finding``."""

    chain_id: str
    expected: int
    found: int
    finding: Finding


@dataclass
class LogAudit:
    """Feed with ``check`` in log order, then read ``findings()``."""

    check_chain: bool = True
    checked: int = 0
    heads: dict[tuple[int, str], tuple[int, int, str]] = field(default_factory=dict)
    _verifier: ChainVerifier = field(default_factory=ChainVerifier)
    _first: dict[int, Finding] = field(default_factory=dict)
    _altered: list[Finding] = field(default_factory=list)
    _last_offset: dict[int, int] = field(default_factory=dict)
    _gaps: dict[int, _Gap] = field(default_factory=dict)
    copies: Copies = field(default_factory=Copies)

    def check(self, message: Message) -> None:
        """Check one record; ``message`` must come after every earlier one of its partition."""
        self.checked += 1
        p, offset = message.partition, message.offset
        previous = self._last_offset.get(p)
        self._last_offset[p] = offset if previous is None else max(previous, offset)
        record = parse_record(message.value)
        if record is None:
            return self._flag(p, offset, "altered", "record is not a JSON object")
        self.copies.see(message, record)
        if not _content_intact(record):
            self._altered.append(Finding(p, offset, "altered", "content_hash does not match "
                                         "the event (payload or envelope changed)"))
        if previous is not None and offset <= previous:
            return self._out_of_order(p, offset, previous)
        if self.check_chain:
            self._check_link(p, offset, record)

    def _check_link(self, p: int, offset: int, record: dict[str, Any]) -> None:
        chain = record.get("chain") if isinstance(record.get("chain"), dict) else {}
        chain_id, seq = str(chain.get("id")), chain.get("seq")
        if p in self._first:
            return self._resolve_gap(p, offset, chain_id, seq)
        problem = self._verifier.check(p, offset, record)
        if problem is None:
            self.heads[(p, chain_id)] = (int(seq), offset, str(chain["hash"]))
            return None
        if "missing" in problem.problem:
            expected = self.heads.get((p, chain_id), (-1, 0, ""))[0] + 1
            finding = self._flag(p, offset, "missing", problem.problem)
            self._gaps[p] = _Gap(chain_id, expected, int(seq), finding)
        elif "reordered" in problem.problem:
            self._flag(p, offset, "reordered", problem.problem)
        else:
            self._flag(p, offset, "altered", problem.problem)
        return None

    def _resolve_gap(self, p: int, offset: int, chain_id: str, seq: Any) -> None:
        """A skipped link that turns up later in the partition was moved, not deleted."""
        gap = self._gaps.get(p)
        if gap and chain_id == gap.chain_id and isinstance(seq, int) and \
                gap.expected <= seq < gap.found:
            first = gap.finding
            self._first[p] = Finding(p, first.offset, "reordered",
                                     f"chain {chain_id[:8]} seq {gap.found} at offset "
                                     f"{first.offset} comes before seq {seq} at offset {offset}")
            del self._gaps[p]

    def _out_of_order(self, p: int, offset: int, previous: int) -> None:
        gap = self._gaps.pop(p, None)
        if gap is not None and self._first.get(p) is gap.finding:
            self._first[p] = Finding(p, gap.finding.offset, "reordered",
                                     f"offset {gap.finding.offset} comes before offset {offset}")
        else:
            self._flag(p, offset, "reordered", f"offset {offset} comes after {previous}")

    def _flag(self, p: int, offset: int, kind: str, detail: str) -> Finding:
        finding = Finding(p, offset, kind, detail)
        self._first.setdefault(p, finding)
        return finding

    def check_extents(self, extents: dict[int, Extent]) -> None:
        """An export that ends before the high watermark in its header lost its last lines."""
        for p, extent in sorted(extents.items()):
            last = self._last_offset.get(p, extent.low - 1)
            if extent.high > extent.low and last < extent.high - 1 and p not in self._first:
                self._flag(p, last + 1, "missing", f"records {last + 1}..{extent.high - 1} "
                           f"absent (the log had up to offset {extent.high - 1})")

    def findings(self) -> list[Finding]:
        """First finding per partition plus every altered content hash, in log order."""
        unique = {(f.partition, f.offset, f.kind): f for f in
                  [*self._first.values(), *self._altered]}
        return sorted(unique.values(), key=lambda f: (f.partition, f.offset, f.kind))


def _content_intact(record: dict[str, Any]) -> bool:
    """The stored ``content_hash`` is the sha256 of the canonical partner envelope."""
    return bool(record.get("content_hash") == content_hash(stored_envelope(record)))
