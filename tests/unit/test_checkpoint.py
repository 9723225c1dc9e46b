"""Chain anchors: signed checkpoints and the proof that the log still holds what they saw."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from saylau.audit.anchors import checkpoint_record
from saylau.audit.prove import CheckpointAudit
from saylau.audit.verify import LogAudit
from saylau.catalogue import Catalogue
from saylau.envelope import canonical, content_hash, stored_envelope
from saylau.log.chain import ChainHead
from saylau.log.checkpoint import (
    Mark,
    key_id,
    marks_of,
    public_key_hex,
    sign,
    signature_problem,
)
from saylau.log.decode import Message, decode
from tests.unit.test_chain import appended

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TAKEN = datetime(2021, 1, 10, 14, 0, tzinfo=UTC)


def log_of(sizes: dict[int, int]) -> list[Message]:
    """Partitions of chained records, one ingest chain each."""
    return [Message(p, offset, canonical(record)) for p, n in sizes.items()
            for offset, record in enumerate(appended(n, ChainHead()))]


def checkpoint_of(log: list[Message]) -> dict[str, Any]:
    ends = {m.partition: m.offset + 1 for m in log}
    tails = {p: [m for m in log if m.partition == p] for p in ends}
    return sign("saylau.events", TAKEN, marks_of({**ends, 9: 0}, tails), KEY)


def proof(checkpoint: dict[str, Any], log: list[Message]) -> list[str]:
    audit, anchors = LogAudit(), CheckpointAudit([checkpoint])
    for message in log:
        audit.check(message)
        anchors.check(message)
    return [str(f) for f in anchors.findings(checkpoint, audit.findings())]


def test_a_checkpoint_is_signed_over_its_canonical_json() -> None:
    checkpoint = checkpoint_of(log_of({0: 3}))
    assert signature_problem(checkpoint) is None
    assert signature_problem(checkpoint, public_key_hex(KEY)) is None
    assert checkpoint["partitions"][-1] == {"partition": 9, "offset": 0, "head": None}
    moved = {**checkpoint, "partitions": [{**checkpoint["partitions"][0], "offset": 2}]}
    assert "altered or forged" in str(signature_problem(moved))
    other = Ed25519PrivateKey.generate()
    assert f"not the pinned key {key_id(public_key_hex(other))}" in str(
        signature_problem(checkpoint, public_key_hex(other)))
    forged = sign("saylau.events", TAKEN, [Mark(0, 1, None)], other)
    assert signature_problem(forged, public_key_hex(KEY)) is not None


def test_the_whole_log_proves_its_checkpoint_and_a_longer_log_too() -> None:
    log = log_of({0: 5, 1: 3})
    checkpoint = checkpoint_of(log)
    assert proof(checkpoint, log) == []
    later = log + [Message(0, 5, canonical(appended(1)[0]))]
    assert proof(checkpoint, later) == []


def test_a_deleted_tail_is_named_by_partition_and_offset() -> None:
    log = log_of({0: 5, 1: 3})
    checkpoint = checkpoint_of(log)
    truncated = [m for m in log if not (m.partition == 0 and m.offset >= 3)]
    assert proof(checkpoint, truncated) == [
        ("partition 0 offset 3: missing: the log ends at offset 2; the checkpoint saw records "
        "up to offset 4")]


def test_a_rewritten_tail_with_a_fresh_chain_is_caught_at_the_head() -> None:
    log = log_of({0: 5})
    checkpoint = checkpoint_of(log)
    records = [orjson.loads(m.value) for m in log]
    records[4]["payload"]["count"] = 999  # rewritten with every hash recomputed
    records[4]["content_hash"] = content_hash(stored_envelope(records[4]))
    head = ChainHead(records[3]["chain"]["id"], 4, records[3]["chain"]["hash"])
    records[4] = head.seal({k: v for k, v in records[4].items() if k != "chain"})
    rewritten = [Message(0, i, canonical(r)) for i, r in enumerate(records)]
    [finding] = proof(checkpoint, rewritten)
    assert finding.startswith("partition 0 offset 4: altered: the checkpoint's head is chain")


def test_an_altered_record_before_the_checkpoint_fails_it() -> None:
    log = log_of({0: 5})
    checkpoint = checkpoint_of(log)
    record = orjson.loads(log[2].value)
    record["payload"]["count"] = 999
    altered = [*log[:2], Message(0, 2, canonical(record)), *log[3:]]
    assert proof(checkpoint, altered)[0].startswith("partition 0 offset 2: altered")


def test_the_checkpoint_event_matches_its_schema_and_decodes() -> None:
    checkpoint = checkpoint_of(log_of({0: 2, 1: 1}))
    key, record = checkpoint_record(checkpoint, TAKEN)
    sealed = ChainHead().seal(record)
    event = decode(Message(0, 0, canonical(sealed)), Catalogue()).event
    assert event.type == "chain.checkpointed" and event.payload == checkpoint
    assert key == str(event.event_id) and sealed["partner"] == "operator"
