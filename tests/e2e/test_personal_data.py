"""Personal data end to end (issue 19): names never reach Kafka, the stored events, the read
models or a plain export; an auditor reads them; after ``saylau erase`` nobody does, while the
chain verifies, replay equals live and the counts stand; no master key, no service."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from saylau.audit.logsource import KafkaLog
from saylau.channels import Inbound, derived_event_id, message_event_id
from saylau.settings import Settings
from tests.e2e.test_audit import ALL_EQUAL, caught_up, fetch, ok, saylau
from tests.e2e.test_channels import sms
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


def triage_notes(stack: Stack, report_id: str, key: str) -> list[str]:
    """The notes on one report in the triage queue, as ``key`` reads them."""
    cursor = None
    while True:
        page = httpx.get(f"{stack.api_url}/v1/triage", timeout=30,
                         params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                         headers={"Authorization": f"Bearer {key}"}).json()
        found = [r for r in page["reports"] if r["event_id"] == report_id]
        if found:
            return [n["note"] for n in found[0]["triage"]["notes"]]
        cursor = page["next"]
        assert cursor, f"report {report_id} not in the triage queue"


@pytest.mark.slow
def test_names_in_free_text_are_sealed_withheld_and_erased(
        stack: Stack, replay_schema: str) -> None:
    tag = "".join(chr(ord("g") + int(c, 16)) for c in uuid.uuid4().hex[:8])  # never in a hash
    ivanov, petrova = f"Ivanov{tag}", f"Dana Petrova{tag}"
    auditor = new_key(stack, "auditor", "read,audit")
    said = f"DET Almaty 2 # {ivanov}, {petrova} taken from the square"
    message_id = f"gw-{uuid.uuid4()}"
    assert sms(stack, said, message_id)["status"] == "accepted"
    inbound = Inbound("sms", "tester", message_id, "+77015550123", said, datetime.now(UTC))
    message, detained = str(message_event_id(inbound)), str(derived_event_id(inbound, 0))
    called = envelope("triage.commented", {"event_id": detained,
                                           "note": f"called {petrova.lower()}'s lawyer"},
                      occurred_at="2021-01-10T11:30:00+06:00")
    released = envelope("triage.commented", {"event_id": detained, "note": f"{ivanov} released"},
                        occurred_at="2021-01-10T11:40:00+06:00")  # the queue's notes: by time
    seen = envelope("unauthorised_person.present", {"persons": 1, "description": (
        f"{petrova.upper()} filmed the voters")}, station_id=unique("PS"),
        place={"region": "Almaty", "city": "Almaty"})
    assert [stack.post(e).status_code for e in (called, released, seen)] == [202] * 3
    wait_until(lambda: caught_up(stack), timeout=60, interval=0.3)

    assert tag.encode() not in raw_topic(stack) and tag not in stored_rows(stack)
    reason = f"{ivanov}, {petrova} taken from the square"
    assert event(stack, message, auditor)["text"] == said
    assert event(stack, detained, auditor)["reason"] == reason
    assert event(stack, seen["event_id"], auditor)["description"] == (
        f"{petrova.upper()} filmed the voters")
    assert [event(stack, i, stack.reader_key).get(f) for i, f in (
        (message, "text"), (detained, "reason"), (seen["event_id"], "description"))] == [
        "[text withheld]"] * 3
    assert triage_notes(stack, detained, auditor) == [called["payload"]["note"],
                                                      released["payload"]["note"]]
    assert triage_notes(stack, detained, stack.reader_key) == ["[text withheld]"] * 2

    found = ok(saylau(stack, "find", "--name", petrova, "--key", auditor))
    assert "4 event(s), 4 value(s)" in found
    assert all(i in found for i in (message, detained, called["event_id"], seen["event_id"]))
    done = ok(saylau(stack, "erase", "--name", petrova, "--key", stack.writer_key))
    assert "erased 4 value(s)" in done and "accepted" in done
    wait_until(lambda: event(stack, message, auditor)["text"] == "[erased]", timeout=10)
    assert event(stack, detained, auditor)["reason"] == "[erased]"
    assert event(stack, seen["event_id"], auditor)["description"] == "[erased]"
    assert triage_notes(stack, detained, auditor) == ["[erased]", released["payload"]["note"]]
    assert "0 event(s)" in ok(saylau(stack, "find", "--name", petrova, "--key", auditor))

    one = ok(saylau(stack, "erase", "--event", released["event_id"], "--key", stack.writer_key))
    assert "erased 1 value(s)" in one
    wait_until(lambda: triage_notes(stack, detained, auditor) == ["[erased]"] * 2, timeout=10)
    missing = str(uuid.uuid4())
    assert missing in refused(saylau(stack, "erase", "--event", missing,
                                     "--key", stack.writer_key))
    wait_until(lambda: caught_up(stack), timeout=60, interval=0.3)
    assert "OK" in ok(saylau(stack, "verify"))
    ok(saylau(stack, "replay", "--schema", replay_schema))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", replay_schema))


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
