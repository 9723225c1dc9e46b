"""The collector tuning each service applies at start-up (in a child process: it is global).

Judged against the running interpreter's own defaults, read in the child before anything
tunes them (CPython 3.13 raised the young generation's threshold from 700 to 2000), not
against one CPython version's numbers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from saylau.collector import THRESHOLDS

PROBE = ("import gc, json; defaults = gc.get_threshold(); "
         "from saylau.collector import quiet_collector; tuned = quiet_collector(); "
         "print(json.dumps([defaults, tuned, gc.get_threshold(), gc.get_freeze_count() > 0]))")


def run(**env: str) -> tuple[tuple[int, ...], bool, tuple[int, ...], bool]:
    """(the interpreter's default thresholds, whether it tuned, the thresholds then, whether
    the start-up heap is frozen)."""
    out: list[Any] = json.loads(subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
        env={**os.environ, **env}).stdout)
    defaults, tuned, thresholds, frozen = out
    return tuple(defaults), tuned, tuple(thresholds), frozen


def test_services_freeze_the_start_up_heap_and_collect_less_often() -> None:
    defaults, tuned, thresholds, frozen = run(SAYLAU_GC_TUNING="1")
    assert tuned and frozen
    assert thresholds == THRESHOLDS != defaults
    assert thresholds[0] > defaults[0], (thresholds, defaults)  # the young generation
    assert all(t >= d for t, d in zip(thresholds, defaults, strict=True)), (thresholds, defaults)


def test_it_can_be_turned_off_to_measure_the_difference() -> None:
    defaults, tuned, thresholds, frozen = run(SAYLAU_GC_TUNING="0")
    assert not tuned and not frozen
    assert thresholds == defaults
