"""A projector worker stops by raising ``StopWorker`` (a SystemExit), never ``os._exit``:
``finally`` blocks run, the batch in hand stays unacknowledged and the exit status says why;
and what must hold at run time is checked by explicit errors, which ``python -O`` keeps
(it drops ``assert``), so the cases that show it run in their own interpreter, under ``-O``."""
from __future__ import annotations

import subprocess
import sys

import pytest

from saylau.settings import Settings
from services.projector.app import exit_now
from services.projector.health import Health
from services.projector.positioning import LogGate
from services.projector.stopping import StopWorker
from tests.stack import ROOT

WRAPPED = """
import asyncio
acked = []
try:
{body}
finally:
    print("finally ran; acknowledged:", acked, flush=True)
"""


def run_optimised(body: str) -> subprocess.CompletedProcess[str]:
    """``body`` (a block) run by ``python -O`` inside try/finally; what it said and its status."""
    indented = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return subprocess.run([sys.executable, "-O", "-c", WRAPPED.format(body=indented)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_failing_projection_stops_the_worker_70_with_nothing_acknowledged() -> None:
    done = run_optimised("""
from services.projector.pipeline import Pipeline
from tests.unit.test_projector_pipeline import batch

async def bug(messages, decoded):
    raise ValueError("a bug in a projection")

async def ack(event):
    acked.append(event.message.offset)

async def main():
    pipeline = Pipeline(lambda messages: {}, bug, ack)
    await pipeline.put(batch(0))
    await asyncio.sleep(30)  # the stop leaves the event loop long before

asyncio.run(main())
""")
    assert done.returncode == 70, done.stderr
    assert "finally ran; acknowledged: []" in done.stdout, done.stdout + done.stderr
    assert "a bug in a projection" in done.stderr


def test_read_models_of_another_version_stop_the_worker_75(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StopWorker, "first", None)
    with pytest.raises(SystemExit) as stopped:
        exit_now("the read models are version 9; this release projects 10")
    assert stopped.value.code == 75 and StopWorker.first is stopped.value


async def test_asked_to_stop_before_the_log_is_verified_stops_the_worker_0(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StopWorker, "first", None)
    gate = LogGate(Settings(), Health(Settings()), retrying=None)  # type: ignore[arg-type]
    with pytest.raises(SystemExit) as stopped:
        await gate.wait(should_stop=lambda: True)
    assert stopped.value.code == 0 and "not verified" in StopWorker.first.reason  # type: ignore[union-attr]


def test_invariants_are_explicit_errors_under_python_o() -> None:
    done = run_optimised("""
from pathlib import Path
from saylau.audit.logsource import ExportLog
from saylau.settings import Settings
from services.projector.health import Health

print(asyncio.run(Health(Settings()).problems()))
chunks = ExportLog(Path("never-opened.ndjson")).chunks(10)
try:
    asyncio.run(anext(chunks))
except RuntimeError as exc:
    print("refused:", exc)
""")
    assert done.returncode == 0, done.stderr
    assert "'PostgreSQL: no PostgreSQL pool yet'" in done.stdout, done.stdout
    assert "refused: the export is not open: use 'async with ExportLog(...)'" in done.stdout
