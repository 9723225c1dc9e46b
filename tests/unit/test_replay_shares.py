"""How a replay is spread over processes (pure: no Kafka, no PostgreSQL)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from saylau.audit.logsource import Extent
from saylau.audit.shares import AUTO_MIN_RECORDS, processes_for, split


@dataclass
class OpenedLog:
    topic: str = "events"
    extents: dict[int, Extent] = field(default_factory=lambda: {
        p: Extent(10 * p, 100 + p) for p in range(6)})


def test_auto_spreads_only_a_large_log_and_never_over_more_processes_than_partitions() -> None:
    assert processes_for("auto", AUTO_MIN_RECORDS - 1, 6, 8) == 1
    assert processes_for("auto", AUTO_MIN_RECORDS, 6, 2) == 2
    assert processes_for("auto", 10**7, 6, 64) == 6
    assert processes_for("auto", 10**7, 6, None) == 1
    assert processes_for("4", 10, 6, 1) == 4  # asked for: whatever the size
    assert processes_for("9", 10, 6, 1) == 6
    for bad in ("0", "-2", "many"):
        with pytest.raises(ValueError):
            processes_for(bad, 10, 6, 2)


def test_shares_hold_every_partition_once_up_to_one_position() -> None:
    log = OpenedLog()
    shares = split(log, "replay_x", 4, 500, 1, None, "round-robin", None)  # type: ignore[arg-type]
    assert [s.partitions for s in shares] == [(0, 4), (1, 5), (2,), (3,)]
    for s in shares:
        for p in range(6):  # a share reads its own partitions from low to high, no other
            if p in s.partitions:
                assert (s.start[p], s.stop[p]) == (10 * p, 100 + p)
            else:
                assert s.stop[p] == 0 and p not in s.start
        assert (s.topic, s.schema, s.batch, s.jobs) == ("events", "replay_x", 500, 1)


HANG = 60.0
"""Seconds a share waits for a report before it takes none to be coming (a bound on a
failure only: a report ends the wait at once)."""


def read_in_two_halves(job: tuple[int, Any]) -> int:
    """A share's stand-in (spawned, so importable by name): reads half its records, then,
    when given an event, waits until the parent has reported them before reading the rest."""
    from saylau.audit.shares import count_read
    records, heard = job
    count_read(records // 2)
    if heard is not None and not heard.wait(HANG):
        raise AssertionError(f"nothing was reported while this process ran ({HANG} s)")
    count_read(records - records // 2)
    return records


def test_processes_report_what_they_read_while_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first share holds until the parent has reported what both shares read so far
    (its first half and all of the second): a parent that reports only at the end (or not
    what the processes count) never lets it finish."""
    import asyncio
    import multiprocessing

    from saylau.audit import shares
    monkeypatch.setattr(shares, "PROGRESS_EVERY", 0.1)
    reports: list[int] = []
    with multiprocessing.get_context("spawn").Manager() as manager:
        heard = manager.Event()

        def report(n: int) -> None:
            reports.append(n)
            if sum(reports) >= 50 + 30:
                heard.set()

        results = asyncio.run(shares.in_processes(read_in_two_halves,
                                                  [(100, heard), (30, None)], report))
    assert results == [100, 30]
    assert sum(reports) == 130
