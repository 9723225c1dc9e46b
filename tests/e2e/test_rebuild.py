"""Read models are rebuilt, not migrated: ``saylau rebuild`` under live traffic, with the api
answering throughout, an atomic switch, the old projector stopping, and exact counts after."""
from __future__ import annotations

import time

import httpx
import pytest

from saylau.store.readsets import PROJECTION_VERSION, read_model_version
from tests.background import Background
from tests.e2e.test_audit import AUDITED, Poster, caught_up, fetch, ok, saylau, wave
from tests.stack import Stack, wait_until

NEXT = str(int(PROJECTION_VERSION) + 1)
NEW_RELEASE = {"PROJECTION_VERSION": NEXT}
"""A release that projects differently from this one."""


class Reader(Background):
    """A monitoring centre reading all the time; every answer that is not 200 is kept."""

    def __init__(self, stack: Stack) -> None:
        super().__init__()
        self.stack, self.reads, self.failed = stack, 0, []

    def step(self) -> None:
        for path in ("/v1/detentions", "/v1/stations", "/v1/breaches/summary"):
            try:
                reply = self.stack.get(path)
                if reply.status_code != 200:
                    self.failed.append(f"{path}: {reply.status_code} {reply.text[:200]}")
            except httpx.HTTPError as exc:
                self.failed.append(f"{path}: {exc!r}")
            self.reads += 1
        time.sleep(0.02)


@pytest.mark.slow
def test_rebuild_under_live_traffic_switches_atomically_and_counts_stay_exact(
        own_stack: Stack) -> None:
    stack = own_stack.start()
    assert stack.post_batch(wave(600)).status_code == 200
    wait_until(lambda: caught_up(stack), timeout=120, interval=0.5)
    poster, reader = Poster(stack), Reader(stack)
    poster.start()
    reader.start()
    try:
        out = ok(saylau(stack, "rebuild", "--processes", "2", **NEW_RELEASE))  # shared log
        assert f"switched {stack.name} to version {read_model_version(NEXT)}" in out
        old_projector = stack.procs["projector"][-1]
        wait_until(lambda: old_projector.poll() is not None, 60)
        assert old_projector.returncode == 75  # it projects another version: stopped
        stack.env.update(NEW_RELEASE)
        stack.start_projector()
        wait_until(lambda: poster.batches >= 10 and reader.reads > 30, 60)
    finally:
        try:
            poster.stop()
        finally:
            reader.stop()
    assert not reader.failed, reader.failed[:3]
    wait_until(lambda: caught_up(stack), timeout=120, interval=0.5)

    sets = {r["state"]: r for r in fetch('SELECT * FROM "{}".read_model_sets'.format(
        stack.env["INGEST_SCHEMA"]))}
    assert sets["serving"]["schema_name"] == stack.name
    assert sets["serving"]["version"] == read_model_version(NEXT)
    retired = sets["retired"]["schema_name"]
    assert fetch("SELECT 1 FROM pg_namespace WHERE nspname = $1", retired)  # kept
    accepted = fetch(f'SELECT count(*) FROM "{stack.name}_ingest".accepted_events')[0][0]
    assert fetch(f'SELECT count(*) FROM "{stack.name}".events')[0][0] == accepted
    replay = "replay_rb_" + stack.name
    ok(saylau(stack, "replay", "--schema", replay, **NEW_RELEASE))
    assert f"{AUDITED}/{AUDITED} tables equal" in ok(
        saylau(stack, "compare", "--replay", replay, **NEW_RELEASE))
    assert "already version" in ok(saylau(stack, "rebuild", "--if-needed", **NEW_RELEASE))
