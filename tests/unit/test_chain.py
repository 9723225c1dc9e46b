"""The hash chain and the log audit on plain records: no Kafka, no database."""
from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from saylau.audit.logsource import Extent, export_line, export_message
from saylau.audit.verify import LogAudit
from saylau.envelope import canonical, content_hash, stored_envelope
from saylau.log.chain import ChainHead, ChainVerifier, rechain
from saylau.log.decode import Message
from tests.factories import detention


def appended(n: int, head: ChainHead | None = None) -> list[dict[str, Any]]:
    """``n`` records sealed as ingest seals them, on one chain."""
    head = head or ChainHead()
    records = []
    for i in range(n):
        record = {**detention("Almaty", i + 1), "received_at": "2021-01-10T06:00:00+00:00",
                  "partner": "hotline"}
        record["content_hash"] = content_hash(stored_envelope(record))
        records.append(head.seal(record))
    return records


def first_problem(records: list[dict[str, Any]]) -> tuple[int, str] | None:
    verifier = ChainVerifier()
    for offset, record in enumerate(records):
        problem = verifier.check(0, offset, record)
        if problem:
            return problem.offset, problem.problem
    return None


def audited(records: list[dict[str, Any]], offsets: list[int] | None = None) -> LogAudit:
    audit = LogAudit()
    for offset, record in zip(offsets or range(len(records)), records):
        audit.check(Message(0, offset, canonical(record)))
    return audit


def test_intact_chain_passes() -> None:
    assert first_problem(appended(5)) is None
    assert audited(appended(5)).findings() == []


def test_altered_payload_is_caught_at_its_offset() -> None:
    records = appended(5)
    records[2]["payload"]["count"] = 500
    assert first_problem(records) == (2, "content altered: hash does not match")
    [finding] = audited(records).findings()
    assert (finding.offset, finding.kind) == (2, "altered")


def test_recomputed_hashes_still_break_the_next_link() -> None:
    records = appended(4)
    forged = records[1]
    forged["payload"]["count"] = 500
    forged["content_hash"] = content_hash(stored_envelope(forged))
    ChainHead(seq=1, prev=forged["chain"]["prev"]).seal(forged)
    forged["chain"]["id"] = records[0]["chain"]["id"]
    assert first_problem(records) == (2, "chain broken: prev does not match")


def test_missing_event_is_reported_at_the_next_one() -> None:
    records = appended(5)
    del records[2]
    offset, problem = first_problem(records) or (None, "")
    assert offset == 2 and "missing" in problem
    [finding] = audited(records).findings()
    assert (finding.offset, finding.kind) == (2, "missing")


def test_reordered_events_are_reported_as_reordered() -> None:
    records = appended(5)
    records[1], records[2] = records[2], records[1]
    assert first_problem(records) is not None
    [finding] = audited(records).findings()
    assert (finding.offset, finding.kind) == (1, "reordered")
    assert "seq 2 at offset 1 comes before seq 1 at offset 2" in finding.detail


def test_repeated_event_is_reported() -> None:
    records = appended(3)
    offset, problem = first_problem([*records, copy.deepcopy(records[1])]) or (None, "")
    assert offset == 3 and "reordered or repeated" in problem


def test_offsets_out_of_order_in_an_export_are_reordered() -> None:
    records = appended(4)
    [finding] = audited(records, offsets=[0, 2, 1, 3]).findings()
    assert (finding.offset, finding.kind) == (1, "reordered")


def test_two_interleaved_chains_are_checked_each_on_its_own() -> None:
    first, second = appended(4), appended(4)
    interleaved = [first[0], second[0], second[1], first[1], first[2], second[2], second[3],
                   first[3]]
    assert first_problem(interleaved) is None
    audit = audited(interleaved)
    assert audit.findings() == [] and len(audit.heads) == 2
    del interleaved[4]  # first[2]
    assert (first_problem(interleaved) or (None,))[0] == 6


def test_truncated_export_is_missing_its_tail() -> None:
    audit = audited(appended(3))
    audit.check_extents({0: Extent(0, 5)})
    [finding] = audit.findings()
    assert (finding.offset, finding.kind) == (3, "missing")


def test_export_line_round_trips_the_record() -> None:
    record = appended(1)[0]
    line = orjson.loads(export_line(Message(3, 41, canonical(record))))
    assert line == {"partition": 3, "offset": 41, "record": record}
    assert export_message(line) == Message(3, 41, canonical(record))


def test_swapped_export_lines_name_the_first_line_out_of_place() -> None:
    records = appended(4)
    [finding] = audited([records[0], records[2], records[1], records[3]],
                        offsets=[0, 2, 1, 3]).findings()
    assert (finding.offset, finding.kind) == (2, "reordered")
    assert finding.detail == "offset 2 comes before offset 1"


def test_a_replayed_dead_letter_is_rechained_not_repeated() -> None:
    """The admin replay re-appends a dead letter; with its old link it would be a repeat."""
    original = appended(3)
    dead = canonical(original[1])
    as_before = LogAudit()
    for offset, value in enumerate([*map(canonical, original), dead]):
        as_before.check(Message(0, offset, value))
    assert [f.kind for f in as_before.findings()] == ["reordered"]

    replayed = rechain(dead, ChainHead())
    audit = LogAudit()
    for offset, value in enumerate([*map(canonical, original), replayed]):
        audit.check(Message(0, offset, value))
    assert audit.findings() == []
    copy_ = orjson.loads(replayed)
    assert {k: v for k, v in copy_.items() if k != "chain"} == \
        {k: v for k, v in original[1].items() if k != "chain"}
    assert copy_["chain"]["seq"] == 0 and copy_["chain"]["id"] != original[1]["chain"]["id"]
    assert rechain(b"\xff{not json", ChainHead()) == b"\xff{not json"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3), max_leaves=8)


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_sealed_bytes_are_the_canonical_sealed_record(record: dict[str, Any]) -> None:
    """The one-serialisation path (ingest's) writes exactly what seal + canonical would,
    whatever the keys (``chain`` first or not, empty record, a key that sorts before it)."""
    fast, slow = ChainHead("c1"), ChainHead("c1")
    for _ in range(2):
        assert fast.sealed_bytes(copy.deepcopy(record)) == canonical(slow.seal(
            copy.deepcopy(record)))
    assert (fast.seq, fast.prev) == (slow.seq, slow.prev)


def test_records_sealed_by_ingest_verify() -> None:
    head, verifier = ChainHead(), ChainVerifier()
    for offset in range(3):
        value = head.sealed_bytes({**detention("Almaty", offset + 1), "partner": "p"})
        assert verifier.check(0, offset, orjson.loads(value)) is None
