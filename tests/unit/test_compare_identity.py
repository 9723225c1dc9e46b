"""``saylau compare`` checks the log identity two schemas recorded (issue 29 item 2). Pure."""
from __future__ import annotations

from saylau.audit.compare import identity_differences

LIVE = {0: (5, "topic-a", "h5"), 1: (0, "topic-a", None), 2: (3, "topic-a", "h3")}


def test_the_same_log_at_the_same_position_has_no_difference() -> None:
    assert identity_differences("live", LIVE, "replay", dict(LIVE)) == []


def test_another_topic_id_or_chain_head_is_named() -> None:
    other = {**LIVE, 2: (3, "topic-b", "x3")}
    assert identity_differences("live", LIVE, "replay", other) == [
        "topic id: live topic-a, replay topic-a, topic-b",
        "partition 2 at offset 3: chain head live h3, replay x3"]


def test_what_one_side_never_recorded_is_no_difference() -> None:
    export_replay = {p: (o, None, h) for p, (o, _, h) in LIVE.items()}
    assert identity_differences("live", LIVE, "replay", export_replay) == []
    moved_on = {**LIVE, 0: (9, "topic-a", "h9")}
    assert identity_differences("live", moved_on, "replay", LIVE) == []
