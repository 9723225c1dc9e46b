"""The collector tuning each service applies at start-up (in a child process: it is global)."""
from __future__ import annotations

import os
import subprocess
import sys

PROBE = ("import gc; from saylau.collector import quiet_collector; "
         "print(quiet_collector(), gc.get_threshold(), gc.get_freeze_count() > 0)")


def run(**env: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True, env={**os.environ, **env}).stdout.strip()


def test_services_freeze_the_start_up_heap_and_collect_less_often() -> None:
    assert run(SAYLAU_GC_TUNING="1") == "True (50000, 20, 100) True"


def test_it_can_be_turned_off_to_measure_the_difference() -> None:
    assert run(SAYLAU_GC_TUNING="0") == "False (700, 10, 10) False"
