"""The log-identity decision (issue 20): which differences refuse, and what they say."""
from __future__ import annotations

from saylau.logidentity import ObservedLog, StoredIdentity, check_identity

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
