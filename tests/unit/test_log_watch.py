"""The log watch's verdict (issue 29 item 1): only a different id refuses."""
from __future__ import annotations

from saylau.log.watch import recreated


def test_a_different_topic_id_is_a_recreated_topic_named_with_both_ids() -> None:
    reason = recreated("c.events", "old-id", "new-id", "ingest")
    assert reason is not None
    assert "c.events topic was recreated under the running ingest" in reason
    assert "new-id" in reason and "old-id" in reason and "saylau replay" in reason


def test_no_verdict_without_both_ids_or_with_the_same_one() -> None:
    assert recreated("c.events", "id", "id", "projector") is None
    assert recreated("c.events", None, "id", "projector") is None  # not verified yet
    assert recreated("c.events", "id", None, "api") is None  # no broker answered, or deleted
