"""Personal data end to end (issue 19): names never reach Kafka, the stored events, the read
models or a plain export; an auditor reads them; after ``saylau erase`` nobody does, while the
chain verifies, replay equals live and the counts stand; no master key, no service."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from saylau.audit.logsource import KafkaLog
from saylau.settings import Settings
from tests.e2e.test_audit import ALL_EQUAL, caught_up, fetch, ok, saylau
from tests.factories import detention, envelope, unique
from tests.stack import ROOT, Stack, free_port, wait_until


@pytest.fixture
def replay_schema(stack: Stack) -> Any:
    schema = f"replay_{stack.name}_privacy"
    yield schema
    fetch(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def named_reports(city: str, erased: str, kept: str) -> list[dict[str, Any]]:
    place = {"region": "Almaty", "city": city}
    return [
        {**detention(city, 2), "payload": {"count": 2, "persons": [erased, kept]}},
        {**detention(city, 1), "payload": {"count": 1, "persons": [erased.upper()]}},
        envelope("journalist.obstructed", {"action": "detained", "journalist": erased},
                 place=place),
    ]


def raw_topic(stack: Stack) -> bytes:
    """Every key and value in the stack's events topic, as the broker stores them."""
    async def read() -> bytes:
        async with KafkaLog(Settings().kafka_bootstrap, f"{stack.name}.events") as log:
            return b"".join([m.value for chunk in [c async for c in log.chunks(5000)]
                             for m in chunk])
    return asyncio.run(read())


def stored_rows(stack: Stack) -> str:
    """Every row of every table of the stack's read-model and ingest schemas, as text."""
    tables = fetch("SELECT table_schema, table_name FROM information_schema.tables "
                   "WHERE table_schema = ANY($1::text[])", [stack.name, f"{stack.name}_ingest"])
    return "".join(str([r[0] for r in fetch(f'SELECT t::text FROM "{s}"."{t}" t')])
                   for s, t in tables)


def event(stack: Stack, event_id: str, key: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.api_url}/v1/events/{event_id}", timeout=30,
                      headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200, reply.text
    return reply.json()["record"]["payload"]  # type: ignore[no-any-return]


def names_of(stack: Stack, reports: list[dict[str, Any]], key: str) -> list[Any]:
    """The persons (or journalist) of each report, as ``key`` reads them."""
    payloads = [event(stack, r["event_id"], key) for r in reports]
    return [p.get("persons", p.get("journalist")) for p in payloads]


def refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stderr


def new_key(stack: Stack, partner: str, scopes: str) -> str:
    return ok(saylau(stack, "keys", "create", partner, "--scopes", scopes)).strip()


@pytest.mark.slow
def test_names_are_sealed_readable_by_auditors_and_erasable(
        stack: Stack, tmp_path: Path, replay_schema: str) -> None:
    city, tag = unique(), uuid.uuid4().hex[:8]
    erased, kept = f"Zhanat Reimov-{tag}", f"Aigerim Sadykova-{tag}"
    auditor, hotline = new_key(stack, "auditor", "read,audit"), new_key(stack, "hl", "ingest")
    reports = named_reports(city, erased, kept)
    assert [stack.post(r).status_code for r in reports] == [202, 202, 202]
    assert stack.post(reports[0]).json()["status"] == "duplicate"  # a retry, sealed anew
    changed = {**reports[0], "payload": {"count": 2, "persons": [kept, erased]}}
    assert stack.post(changed).status_code == 409
    wait_until(lambda: caught_up(stack), timeout=60, interval=0.3)

    secrets = [erased.encode(), kept.encode(), erased.upper().encode(), tag.encode()]
    raw, rows = raw_topic(stack), stored_rows(stack).encode()
    assert b"enc:v1:" in raw and not [s for s in secrets if s in raw or s in rows]
    plain = tmp_path / "plain.ndjson"
    ok(saylau(stack, "export", "-o", str(plain)))
    assert not [s for s in secrets if s in plain.read_bytes()]

    assert names_of(stack, reports, auditor) == [[erased, kept], [erased.upper()], erased]
    assert names_of(stack, reports, stack.reader_key) == ["[redacted]"] * 3
    opened = tmp_path / "opened.ndjson"
    assert "admin or audit scope" in refused(saylau(stack, "export", "--decrypt",
                                              "--key", stack.reader_key))
    ok(saylau(stack, "export", "--decrypt", "--key", auditor, "-o", str(opened)))
    assert kept.encode() in opened.read_bytes() and erased.encode() in opened.read_bytes()
    assert "decrypted export" in refused(saylau(stack, "verify", "--from-export", str(opened)))

    found = ok(saylau(stack, "find", "--name", erased, "--key", auditor))
    assert "3 event(s), 3 value(s)" in found and all(r["event_id"] in found for r in reports)

    counts = stack.detentions_in(city)
    forged = envelope("personal_data.erased", {"requested_by": "x", "values": 9,
                                               "requested_at": "2026-11-30T12:00:00+00:00"})
    assert stack.post(forged, key=hotline).status_code == 403
    assert "admin" in refused(saylau(stack, "erase", "--name", erased, "--key", auditor))
    done = ok(saylau(stack, "erase", "--name", f" {erased.lower()} ", "--reference", "DSR-1",
                     "--key", stack.writer_key))
    assert "erased 3 value(s)" in done and "accepted" in done
    wait_until(lambda: caught_up(stack), timeout=60, interval=0.3)

    wait_until(lambda: names_of(stack, reports, auditor)
               == [["[erased]", kept], ["[erased]"], "[erased]"], timeout=10)
    assert names_of(stack, reports, stack.reader_key) == ["[redacted]"] * 3
    ok(saylau(stack, "export", "--decrypt", "--key", auditor, "-o", str(opened)))
    assert erased.encode() not in opened.read_bytes() and b"[erased]" in opened.read_bytes()
    assert erased.encode() not in raw_topic(stack)
    assert "0 event(s)" in ok(saylau(stack, "find", "--name", erased, "--key", auditor))
    assert "OK" in ok(saylau(stack, "verify"))
    ok(saylau(stack, "replay", "--schema", replay_schema))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", replay_schema))
    assert stack.detentions_in(city) == counts and counts and counts["detained_total"] == 3


@pytest.mark.parametrize("master_key", [{"SAYLAU_MASTER_KEY": "",
                                         "SAYLAU_MASTER_KEY_FILE": "/nonexistent/master.key"},
                                        {"SAYLAU_MASTER_KEY": "A" * 43 + "="}])
def test_a_lost_or_wrong_master_key_stops_the_service(stack: Stack,
                                                      master_key: dict[str, str]) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "uvicorn", "services.ingest.app:app", "--port", str(free_port())],
        cwd=ROOT, env={**stack.env, **master_key}, capture_output=True, text=True, timeout=60,
        check=False)
    said = started.stdout + started.stderr
    assert started.returncode != 0 and "master key" in said and "lost" in said, said
