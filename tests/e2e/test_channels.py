"""Intake channels end to end: SMS gateway, Telegram webhook and bulk import through the
real ingest, Kafka, projector and API; the seed scenario entered as SMS counts the same."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from saylau.channels import Inbound, derived_event_id, message_event_id
from tests.stack import ROOT, Stack, wait_until

SCENARIO = ROOT / "scenarios" / "kz-2021-01-10.json"
SCENARIO_SMS = ROOT / "scenarios" / "kz-2021-01-10.sms.txt"
GATEWAY = "?election=kz-2021-01-10&source=kibhr-sms"


@pytest.fixture(scope="module")
def sms_stack() -> Iterator[Stack]:
    running = Stack().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def json_stack() -> Iterator[Stack]:
    running = Stack().start()
    yield running
    running.stop()


def channel(stack: Stack, path: str, headers: dict[str, str] | None = None,
            **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/channels/{path}", timeout=30, **kwargs,
                      headers={"Authorization": f"Bearer {stack.writer_key}", **(headers or {})})


def sms(stack: Stack, text: str, message_id: str, sender: str = "+77015550123") -> Any:
    reply = channel(stack, f"sms{GATEWAY}",
                    data={"from": sender, "text": text, "message_id": message_id})
    assert reply.status_code == 200, reply.text
    return reply.json()


def station() -> str:
    return f"PS-{uuid.uuid4().hex[:8].upper()}"


def incidents(stack: Stack, station_id: str) -> dict[str, int]:
    found = stack.get(f"/v1/stations/{station_id}")
    return found.json()["incidents"] if found.status_code == 200 else {}


def test_sms_is_recorded_with_its_raw_message_and_a_retry_is_a_duplicate(
        sms_stack: Stack) -> None:
    ps, message_id = station(), f"gw-{uuid.uuid4()}"
    text = f"{ps.replace('-', '')} OAD 4 @0600"
    answer = sms(sms_stack, text, message_id)
    assert answer["status"] == "accepted"
    assert answer["reply"].startswith(f"Recorded: {ps} OAD 4 observers @06:00 (ref ")
    wait_until(lambda: incidents(sms_stack, ps) == {"observer.access_denied": 1})
    retry = sms(sms_stack, text, message_id)
    assert retry["status"] == "duplicate" and retry["reply"].startswith("Already recorded.")
    inbound = Inbound("sms", "tester", message_id, "+77015550123", text, datetime.now(UTC))
    raw = wait_until(lambda: sms_stack.get(f"/v1/events/{message_event_id(inbound)}").json()
                     .get("record"))
    assert raw["type"] == "message.received" and raw["station_id"] == ps
    assert raw["payload"]["text"] == "[text withheld]" and raw["payload"]["channel"] == "sms"
    opened = httpx.get(f"{sms_stack.api_url}/v1/events/{message_event_id(inbound)}", timeout=30,
                       headers={"Authorization": f"Bearer {sms_stack.writer_key}"})
    assert opened.json()["record"]["payload"]["text"] == text  # an admin key reads it
    assert raw["payload"]["event_ids"] == [str(derived_event_id(inbound, 0))]
    made = sms_stack.get(f"/v1/events/{derived_event_id(inbound, 0)}").json()["record"]
    assert made["occurred_at"] == "2021-01-10T06:00:00+06:00" and made["source"] == "kibhr-sms"
    assert incidents(sms_stack, ps) == {"observer.access_denied": 1}


def test_sms_error_is_answered_precisely_and_nothing_is_recorded(sms_stack: Stack) -> None:
    ps = station()
    answer = sms(sms_stack, f"{ps} OAD", f"gw-{uuid.uuid4()}")
    assert answer == {"status": "rejected",
                      "reply": f"Not recorded: {ps} OAD needs a number of observers"}
    unknown = sms(sms_stack, f"{ps} XYZ 3", f"gw-{uuid.uuid4()}")
    assert unknown["reply"].startswith("Not recorded: unknown code XYZ; known: BST, CLS")


def test_sms_as_json_and_without_a_key(sms_stack: Stack) -> None:
    ps = station()
    body = {"sender": "+77015550123", "Body": f"{ps} BST 30", "MessageSid": "SM" + ps}
    answer = channel(sms_stack, "sms", json=body).json()
    assert answer["status"] == "accepted"
    wait_until(lambda: incidents(sms_stack, ps) == {"ballot.stuffing_observed": 1})
    anonymous = httpx.post(f"{sms_stack.ingest_url}/v1/channels/sms", json=body)
    assert anonymous.status_code == 401


def test_telegram_update_is_recorded_and_answered_in_the_chat(sms_stack: Stack) -> None:
    ps, chat = station(), 4242
    update = {"update_id": 77, "message": {
        "message_id": int(uuid.uuid4().int % 10**9), "date": 1610251200,
        "from": {"id": chat, "first_name": "Aida"}, "chat": {"id": chat, "type": "private"},
        "text": f"/report {ps} VTA 2 TEMP @1020"}}
    url = f"{sms_stack.ingest_url}/v1/channels/telegram{GATEWAY}"  # Telegram sends no headers
    answer = httpx.post(f"{url}&access_token={sms_stack.writer_key}", json=update, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"method": "sendMessage", "chat_id": chat,
                             "text": answer.json()["text"]}
    assert answer.json()["text"].startswith(f"Recorded: {ps} VTA 2 voters (temperature) @10:20")
    wait_until(lambda: incidents(sms_stack, ps) == {"voter.turned_away": 1})
    again = channel(sms_stack, f"telegram{GATEWAY}", json=update).json()
    assert again["text"].startswith("Already recorded.")
    assert incidents(sms_stack, ps) == {"voter.turned_away": 1}


def envelope(station_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": "ballot.stuffing_observed",
            "schema_version": 1, "occurred_at": "2021-01-10T10:30:00+05:00",
            "source": "partner-import", "station_id": station_id, "payload": {}, **fields}


def test_ndjson_import_answers_per_line_and_reimport_is_duplicate(sms_stack: Stack) -> None:
    ps = station()
    lines = [orjson.dumps(envelope(ps)).decode(), "", "{broken",
             orjson.dumps(envelope(ps, type="no.such_type")).decode()]
    body = "\n".join(lines).encode()
    headers = {"Content-Type": "application/x-ndjson"}
    first = channel(sms_stack, "import", content=body, headers=headers).json()
    assert [(r["line"], r["status"]) for r in first["results"]] == [
        (1, "accepted"), (3, "rejected"), (4, "rejected")]
    assert first["results"][2]["errors"][0]["loc"] == ["type"]
    again = channel(sms_stack, "import", content=body, headers=headers).json()
    assert again["results"][0]["status"] == "duplicate" and again["accepted"] == 0
    wait_until(lambda: incidents(sms_stack, ps) == {"ballot.stuffing_observed": 1})


def test_csv_import_without_ids_is_idempotent(sms_stack: Stack) -> None:
    ps, town = station(), f"Town{uuid.uuid4().hex[:6]}"
    csv = ("type,occurred_at,source,station_id,region,city,payload\n"
           f'observer.expelled,2021-01-10T09:15:00+06:00,import,{ps},,,'
           '"{""reason_kind"": ""pcr_test""}"\n'
           f'detention.reported,2021-01-10T12:10:00+06:00,import,,Almaty,{town},'
           '"{""count"": 5}"\n'
           f"voter.turned_away,2021-01-10T10:00:00+06:00,import,{ps},,,{{}}\n")
    headers = {"Content-Type": "text/csv"}
    first = channel(sms_stack, "import", content=csv.encode(), headers=headers).json()
    assert [(r["line"], r["status"]) for r in first["results"]] == [
        (2, "accepted"), (3, "accepted"), (4, "rejected")]
    again = channel(sms_stack, "import", content=csv.encode(), headers=headers).json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "rejected"]
    wait_until(lambda: (sms_stack.detentions_in(town) or {}).get("detained_total") == 5)
    assert incidents(sms_stack, ps) == {"observer.expelled": 1}


def test_the_seed_scenario_through_sms_counts_as_through_the_json_api(
        sms_stack: Stack, json_stack: Stack) -> None:
    scenario = json.loads(SCENARIO.read_text())
    for event in scenario["events"]:
        assert json_stack.post(event).status_code in (200, 202)
    for n, text in enumerate(SCENARIO_SMS.read_text().splitlines()):
        assert sms(sms_stack, text, f"scenario-{n}")["status"] == "accepted", text
    stations, cities = scenario["expect"]["stations"], scenario["expect"]["detentions"]

    def counts(stack: Stack) -> dict[str, Any]:
        found = {s: stack.get(f"/v1/stations/{s}").json() for s in stations}
        rows = stack.get("/v1/detentions").json()["cities"]
        return {"stations": {s: (f.get("incidents"), f.get("total")) for s, f in found.items()},
                "detentions": {c["city"]: c for c in rows if c["city"] in cities}}

    wanted = {"stations": {s: (i, sum(i.values())) for s, i in stations.items()},
              "detentions": {c: {"region": c, "city": c, **d} for c, d in cities.items()}}
    assert wait_until(lambda: counts(json_stack) == wanted and counts(json_stack), 60)
    assert wait_until(lambda: counts(sms_stack) == wanted and counts(sms_stack), 60)
