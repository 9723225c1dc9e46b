"""The log-identity decision (issue 20): which differences refuse, and what they say."""
from __future__ import annotations

from saylau.log.identity import ObservedLog, StoredIdentity, check_dedup, check_identity

OLD, NEW = "5d5e0b2a-1111-4c0e-9d1e-000000000001", "7c7dc0cd-0b5b-4060-befb-25060bc681e1"


def stored(offsets: dict[int, int], heads: dict[int, str] | None = None) -> StoredIdentity:
    return StoredIdentity("saylau.events", OLD, offsets, heads or {})


def test_nothing_stored_adopts_the_log() -> None:
    assert check_identity(None, ObservedLog(NEW, {0: 0}, {})).ok


def test_same_log_with_more_records_is_ok() -> None:
    verdict = check_identity(stored({0: 12400, 1: 0}, {0: "a" * 64}),
                             ObservedLog(OLD, {0: 13000, 1: 5}, {0: "a" * 64}))
    assert verdict.ok and verdict.reason == ""


def test_recreated_topic_names_both_ids_and_the_remedy() -> None:
    verdict = check_identity(stored({0: 12400}), ObservedLog(NEW, {0: 3500}, {}))
    assert not verdict.ok
    assert [m.kind for m in verdict.mismatches] == ["topic_recreated"]
    assert verdict.reason == (
        f"saylau.events topic was recreated: id {NEW}, read models came from {OLD}; "
        "replay into a fresh schema with `saylau replay`, or point KAFKA_BOOTSTRAP back at "
        "the old cluster")


def test_stored_offset_beyond_the_end_is_an_error_not_lag_zero() -> None:
    verdict = check_identity(stored({0: 12400, 1: 100, 2: 7}),
                             ObservedLog(OLD, {0: 3500, 1: 100, 2: 7}, {}))
    assert [(m.kind, m.partition) for m in verdict.mismatches] == [("offset_beyond_end", 0)]
    assert "partition 0: read models are at offset 12400 but the partition ends at 3500" in (
        verdict.reason)
    assert "saylau replay" in verdict.reason


def test_missing_partition_is_beyond_the_end() -> None:
    verdict = check_identity(stored({0: 1, 9: 4}), ObservedLog(OLD, {0: 1}, {}))
    assert [(m.kind, m.partition) for m in verdict.mismatches] == [("offset_beyond_end", 9)]


def test_chain_head_differs_names_partition_offset_and_both_hashes() -> None:
    verdict = check_identity(stored({3: 50}, {3: "a" * 64}),
                             ObservedLog(OLD, {3: 80}, {3: "b" * 64}))
    assert [(m.kind, m.partition) for m in verdict.mismatches] == [("chain_differs", 3)]
    assert f"chain head at offset 49 is {'b' * 64} in the log but {'a' * 64}" in verdict.reason


def test_chain_unreadable_at_the_stored_offset_is_a_difference() -> None:
    verdict = check_identity(stored({3: 50}, {3: "a" * 64}), ObservedLog(OLD, {3: 80}, {3: None}))
    assert "is missing in the log" in verdict.reason


def test_offset_zero_or_unknown_head_needs_no_chain() -> None:
    assert check_identity(stored({0: 0, 1: 9}), ObservedLog(OLD, {0: 0, 1: 9}, {})).ok


def test_state_from_before_topic_ids_is_judged_by_offsets_and_chain_heads() -> None:
    legacy = StoredIdentity("saylau.events", None, {0: 12400}, {0: "a" * 64})
    assert check_identity(legacy, ObservedLog(NEW, {0: 12500}, {0: "a" * 64})).ok
    verdict = check_identity(legacy, ObservedLog(NEW, {0: 3500}, {0: None}))
    assert [m.kind for m in verdict.mismatches] == ["offset_beyond_end"]


def test_dedup_table_of_the_same_log_is_accepted() -> None:
    assert check_dedup("saylau.events", "ingest", OLD, {0: 41, 1: 7}, OLD, {0: 42, 1: 9}) is None
    assert check_dedup("saylau.events", "ingest", None, {}, NEW, {0: 0}) is None


def test_dedup_table_of_another_topic_id_is_refused_with_the_remedy() -> None:
    problem = check_dedup("saylau.events", "ingest", OLD, {0: 41}, NEW, {0: 42})
    assert problem is not None
    assert f"belongs to topic saylau.events id {OLD}" in problem and NEW in problem
    assert "saylau migrate-log --to BOOTSTRAP" in problem and "INGEST_SCHEMA" in problem


def test_dedup_table_beyond_the_log_end_is_refused_even_without_a_recorded_id() -> None:
    problem = check_dedup("saylau.events", "ingest", None, {0: 13000, 1: 2}, NEW, {0: 3500, 1: 9})
    assert problem is not None
    assert "partition 0: accepted offset 13000, log ends at 3500" in problem
    assert "partition 1" not in problem


def test_chain_heads_are_the_last_record_of_each_partition() -> None:
    from saylau.log.decode import Message
    from saylau.readmodels.tracking import chain_heads

    def record(h: str) -> bytes:
        return b'{"chain": {"hash": "' + h.encode() + b'"}}'

    batch = [Message(0, 5, record("a")), Message(1, 2, record("b")), Message(0, 6, record("c")),
             Message(2, 9, b"not json")]
    assert chain_heads(batch) == {0: "c", 1: "b", 2: None}
