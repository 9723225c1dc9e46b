"""Tamper evidence: a content hash per event and a hash chain per partition and ingest instance.

Each ingest instance starts a chain with a fresh id for each partition it writes to; every
record carries ``chain = {id, seq, prev, hash}`` where ``hash = sha256(prev || record_hash)``
and ``record_hash`` covers the whole stored record except ``chain``. Several ingest replicas
can write to one partition without coordination: their chains interleave but each is checked
on its own. A failed send starts a new chain, so an unacknowledged record never leaves a gap.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from saylau.envelope import canonical

GENESIS = "0" * 64


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 over the stored record without its chain link."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "chain"})).hexdigest()


def link(prev: str, rec_hash: str) -> str:
    return hashlib.sha256(f"{prev}{rec_hash}".encode()).hexdigest()


@dataclass
class ChainHead:
    chain_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0
    prev: str = GENESIS

    def seal(self, record: dict[str, Any]) -> dict[str, Any]:
        """Attach the next link to ``record`` (mutates and returns it)."""
        chain_hash = link(self.prev, record_hash(record))
        record["chain"] = {"id": self.chain_id, "seq": self.seq, "prev": self.prev,
                           "hash": chain_hash}
        self.seq += 1
        self.prev = chain_hash
        return record

    def sealed_bytes(self, record: dict[str, Any]) -> bytes:
        """``canonical(self.seal(record))`` for a record without a link, serialising the
        record once: its canonical bytes are hashed, and the link is spliced in front (keys
        are sorted and ``chain`` sorts before every envelope and ingest field)."""
        if "chain" in record or min(record, default="~") < "chain":
            return canonical(self.seal(record))
        body = canonical(record)
        chain_hash = link(self.prev, hashlib.sha256(body).hexdigest())
        chain = {"id": self.chain_id, "seq": self.seq, "prev": self.prev, "hash": chain_hash}
        record["chain"] = chain
        self.seq += 1
        self.prev = chain_hash
        return b'{"chain":' + canonical(chain) + (b"," + body[1:] if len(body) > 2 else b"}")


def rechain(value: bytes, head: ChainHead) -> bytes:
    """A stored record re-appended (a dead letter replayed after a fix), with the next link of
    ``head`` in place of its old one.

    A copy that kept its old link would repeat a sequence number its chain has already passed,
    which ``verify`` rightly reports as a repeat; the copy is a new append and gets a new link.
    Bytes that are not a JSON object cannot carry a link and are returned unchanged.
    """
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if not isinstance(record, dict):
        return value
    record.pop("chain", None)
    return canonical(head.seal(record))


@dataclass
class ChainProblem:
    partition: int
    offset: int
    problem: str


class ChainVerifier:
    """Walks records in partition order and reports the first break of each kind."""

    def __init__(self) -> None:
        self._heads: dict[tuple[int, str], tuple[int, str]] = {}

    def check(self, partition: int, offset: int, record: dict[str, Any]) -> ChainProblem | None:
        chain = record.get("chain")
        if not isinstance(chain, dict):
            return ChainProblem(partition, offset, "record has no chain link")
        if link(str(chain.get("prev")), record_hash(record)) != chain.get("hash"):
            return ChainProblem(partition, offset, "content altered: hash does not match")
        key = (partition, str(chain.get("id")))
        seq, prev = self._heads.get(key, (-1, GENESIS))
        if chain.get("seq") != seq + 1:
            what = "missing" if int(chain.get("seq", 0)) > seq + 1 else "reordered or repeated"
            return ChainProblem(partition, offset,
                                f"event {what}: chain {key[1][:8]} seq {chain.get('seq')} "
                                f"after {seq}")
        if chain.get("prev") != prev:
            return ChainProblem(partition, offset, "chain broken: prev does not match")
        self._heads[key] = (seq + 1, chain["hash"])
        return None
