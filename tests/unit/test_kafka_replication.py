"""How the topics' replication follows the settings and the cluster size."""
from __future__ import annotations

from saylau.log.kafka import chain_hash_of, replication_for, replication_problem
from saylau.settings import Settings


def test_defaults_follow_the_cluster() -> None:
    assert replication_for(Settings(), brokers=1) == (1, 1)
    assert replication_for(Settings(), brokers=2) == (2, 1)
    assert replication_for(Settings(), brokers=3) == (3, 2)
    assert replication_for(Settings(), brokers=6) == (3, 2)


def test_settings_win() -> None:
    assert replication_for(Settings(kafka_replication=2), brokers=3) == (2, 1)
    assert replication_for(Settings(kafka_replication=5, kafka_min_isr=3), brokers=6) == (5, 3)


def test_less_replicated_topic_is_named_with_both_figures() -> None:
    assert replication_problem("saylau.events", 3, 2, 3, 2) is None
    assert replication_problem("saylau.events", 3, 3, 3, 2) is None
    problem = replication_problem("saylau.events", 1, 1, 3, 2)
    assert problem is not None and problem.startswith(
        "topic saylau.events has replication factor 1 and min.insync.replicas 1; expected at "
        "least replication factor 3 and min.insync.replicas 2")
    assert replication_problem("saylau.events", 3, 1, 3, 2) is not None


def test_chain_hash_of_a_stored_record() -> None:
    assert chain_hash_of(b'{"chain": {"id": "x", "seq": 1, "prev": "0", "hash": "ab"}}') == "ab"
    assert chain_hash_of(b'{"event_id": "e"}') is None
    assert chain_hash_of(b"not json") is None
    assert chain_hash_of(b"[1]") is None
    assert chain_hash_of(None) is None
