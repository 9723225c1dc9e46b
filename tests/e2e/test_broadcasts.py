"""Messages to observers, against the real services: a coordinator's broadcast reaches her
region's observers in GET /v1/observer/me and no one else's; she cannot address another
region; reads are counted once, by the observers the message reached; her app (Chromium)
shows it, offline too, and marks it read once."""
from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Playwright, expect

from tests.e2e.test_observer_app import (
    ARTIFACTS,
    Observer,
    Phone,
    playwright,
    report,
    signed_in,
)
from tests.e2e.test_observers import accredit, fetchval, issue_pin, me, sign_in
from tests.factories import envelope, unique
from tests.stack import Stack, execute_sql, wait_until

REGION_A, REGION_B = "Mangystau", "Kyzylorda"
pytestmark = pytest.mark.integration
__all__ = ["playwright"]  # the browser fixture of the observer app's tests


def register(stack: Stack, station: str, region: str) -> None:
    assert stack.post(envelope("station.registered", {
        "number": 7, "region": region, "city": "Aktau", "address": "School 3",
        "registered_voters": 900}, station_id=station)).status_code == 202


def beside_the_browser(step: Callable[..., Any], *args: Any) -> Any:
    """``step(*args)`` on a thread of its own: the helpers that query PostgreSQL start an
    event loop, and Playwright's runs in this thread."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(step, *args).result()


def observer_at(stack: Stack, region: str) -> tuple[str, str, str]:
    """(station, observer, token) of a new observer of a new station of ``region``."""
    her = in_the_field(stack, region)
    return her.station_id, her.observer_id, her.token


def coordinator_key(stack: Stack, region: str) -> str:
    """A coordinator's key bound to ``region`` (read, triage, broadcast)."""
    key = "sw_" + uuid.uuid4().hex
    digest = hashlib.sha256(key.encode()).hexdigest()
    beside_the_browser(execute_sql, f'INSERT INTO "{stack.name}_ingest".api_keys (key_hash, '
                       f"partner, scopes, regions) VALUES ('{digest}', '{unique('coord')}', "
                       f"'{{read,triage,broadcast}}', '{{\"{region}\"}}')")
    return key


def broadcast(stack: Stack, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/broadcasts", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def messages(stack: Stack, token: str) -> list[dict[str, Any]]:
    reply = me(stack, token)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["messages"])


def listed(stack: Stack, key: str) -> dict[str, dict[str, Any]]:
    reply = httpx.get(f"{stack.api_url}/v1/broadcasts", timeout=30,
                      headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200, reply.text
    return {b["id"]: b for b in reply.json()["broadcasts"]}


def read(stack: Stack, token: str, broadcast_id: str, observer: str) -> httpx.Response:
    return stack.post(envelope("broadcast.read", {"broadcast_id": broadcast_id,
                                                  "observer_id": observer}), key=token)


def test_a_broadcast_to_region_a_reaches_a_observers_and_not_b(stack: Stack) -> None:
    _, alma, alma_token = observer_at(stack, REGION_A)
    _, bota, bota_token = observer_at(stack, REGION_B)
    before = me(stack, alma_token).json()["version"]
    coordinator = coordinator_key(stack, REGION_A)
    sent = broadcast(stack, coordinator, {"text": {"ru": "Проверьте пломбы", "en": "Check seals"},
                                          "regions": ["Mangistau"]})  # an alias of A
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["event_id"]

    [got] = wait_until(lambda: [m for m in messages(stack, alma_token) if m["id"] == message_id])
    assert got["text"] == {"ru": "Проверьте пломбы", "en": "Check seals"}
    assert got["read"] is False and got["sent_at"]
    answer = me(stack, alma_token)
    assert answer.json()["version"] != before
    assert answer.headers["ETag"] == f'"{answer.json()["version"]}"'
    assert message_id not in {m["id"] for m in messages(stack, bota_token)}

    event = read_event(stack, message_id)
    assert event["type"] == "broadcast.sent" and event["place"] == {"region": REGION_A}
    assert event["payload"]["regions"] == event["payload"]["regions_reached"] == [REGION_A]
    assert alma in event["payload"]["observer_ids"]  # the log says whom it reached
    assert bota not in event["payload"]["observer_ids"]
    assert event["payload"]["text"] == {"ru": "[text withheld]", "en": "[text withheld]"}


def test_addressed_to_no_one_in_particular_is_her_regions_or_for_an_admin_the_country(
        stack: Stack) -> None:
    _, alma, alma_token = observer_at(stack, REGION_A)
    _, bota, bota_token = observer_at(stack, REGION_B)
    mine = broadcast(stack, coordinator_key(stack, REGION_A), {"text": {"kk": "Сәлем"}})
    country = broadcast(stack, stack.writer_key, {"text": {"en": "To everyone"}})
    assert mine.status_code == country.status_code == 202, (mine.text, country.text)
    regional = read_event(stack, mine.json()["event_id"])
    assert regional["payload"]["regions"] == [REGION_A] and regional["place"] == {
        "region": REGION_A}
    assert alma in regional["payload"]["observer_ids"]
    assert bota not in regional["payload"]["observer_ids"]
    national = read_event(stack, country.json()["event_id"])
    assert "regions" not in national["payload"] and "place" not in national
    assert {alma, bota} <= set(national["payload"]["observer_ids"])
    for token in (alma_token, bota_token):
        wait_until(lambda t=token: country.json()["event_id"] in {
            m["id"] for m in messages(stack, t)})


def read_event(stack: Stack, event_id: str) -> dict[str, Any]:
    """The record as appended, once the api has it."""
    return dict(wait_until(lambda: (r := stack.get(f"/v1/events/{event_id}")).status_code
                           == 200 and r.json()["record"]))


def test_a_coordinator_cannot_address_another_region_or_its_stations(stack: Stack) -> None:
    station_b = unique("PS")
    register(stack, station_b, REGION_B)
    coordinator = coordinator_key(stack, REGION_A)
    text = {"text": {"kk": "Сәлем"}}
    to_b = broadcast(stack, coordinator, {**text, "regions": [REGION_B]})
    assert to_b.status_code == 403 and to_b.json()["detail"][0]["loc"] == ["body", "regions"]
    wait_until(lambda: fetchval(f'SELECT region FROM "{stack.name}".station_registry '
                                "WHERE station_id = $1", station_b))
    at_b = broadcast(stack, coordinator, {**text, "station_ids": [station_b]})
    assert at_b.status_code == 403, at_b.text
    assert at_b.json()["detail"][0]["loc"] == ["body", "station_ids"]
    unknown = broadcast(stack, coordinator, {**text, "regions": ["Atlantis"]})
    assert unknown.status_code == 422 and "Atlantis" in unknown.json()["detail"][0]["msg"]
    nowhere = broadcast(stack, coordinator, {**text, "station_ids": [unique("PS")]})
    assert nowhere.status_code == 422
    assert nowhere.json()["detail"][0]["loc"] == ["body", "station_ids"]
    silent = broadcast(stack, coordinator, {"text": {}})
    assert silent.status_code == 422 and "language" in silent.text
    too_long = broadcast(stack, coordinator, {"text": {"en": "x" * 1001}})
    assert too_long.status_code == 422
    reader = broadcast(stack, stack.reader_key, text)
    assert reader.status_code == 403 and "broadcast" in reader.text
    forged = stack.post(envelope("broadcast.sent", {"text": {"en": "hi"}, "sender": "x",
                                                    "observer_ids": []}))
    assert forged.status_code == 403 and "POST /v1/broadcasts" in forged.text


def test_reads_count_once_by_the_observers_it_reached(stack: Stack) -> None:
    station, alma, alma_token = observer_at(stack, REGION_A)
    _, bota, bota_token = observer_at(stack, REGION_B)
    coordinator = coordinator_key(stack, REGION_A)
    sent = broadcast(stack, coordinator, {"text": {"en": "Call Dana at 18:00"},
                                          "station_ids": [station]})
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["event_id"]
    wait_until(lambda: listed(stack, coordinator).get(message_id, {}).get("addressed") == 1)

    stranger = read(stack, bota_token, message_id, bota)
    assert stranger.status_code == 403
    assert stranger.json()["detail"][0]["loc"] == ["payload", "broadcast_id"]
    assert read(stack, bota_token, message_id, alma).status_code == 403  # not in her name
    by_key = stack.post(envelope("broadcast.read", {"broadcast_id": message_id,
                                                    "observer_id": alma}))
    assert by_key.status_code == 403
    for _ in range(2):
        assert read(stack, alma_token, message_id, alma).status_code == 202
    wait_until(lambda: listed(stack, coordinator)[message_id]["read"] == 1)
    wait_until(lambda: [m["read"] for m in messages(stack, alma_token)
                        if m["id"] == message_id] == [True])
    mine = listed(stack, coordinator)[message_id]
    assert mine["text"] == {"en": "Call Dana at 18:00"} and mine["station_ids"] == [station]

    assert message_id not in listed(stack, coordinator_key(stack, REGION_B))
    national = listed(stack, stack.reader_key)[message_id]  # read scope: no free text
    assert national["text"] == {"en": "[text withheld]"} and national["read"] == 1


def test_her_app_shows_the_message_offline_too_and_marks_it_read_once(
        stack: Stack, playwright: Playwright, tmp_path: Path) -> None:
    phones = {region: Phone(playwright, tmp_path / region, stack.ingest_url)
              for region in (REGION_A, REGION_B)}
    who = {region: in_the_field(stack, region) for region in phones}
    try:
        pages = {region: phone.open() for region, phone in phones.items()}
        for region, page in pages.items():
            signed_in(page, who[region])
        sent = broadcast(stack, coordinator_key(stack, REGION_A), {
            "text": {"ru": "Проверьте пломбы урн", "en": "Check the seals of the ballot boxes"},
            "regions": [REGION_A]})
        assert sent.status_code == 202, sent.text
        message_id = sent.json()["event_id"]
        wait_until(lambda: message_id in {m["id"] for m in messages(stack, who[REGION_A].token)})

        page = pages[REGION_A]
        page.reload()  # opening the app asks for her messages
        shown = page.get_by_test_id("message").filter(has_text="Check the seals")
        expect(shown).to_have_attribute("data-message-id", message_id)
        wait_until(lambda: [m["read"] for m in messages(stack, who[REGION_A].token)
                            if m["id"] == message_id] == [True], 30)
        expect(report(page, "Message read").get_by_test_id("report-state")).to_have_text("sent")
        page.reload()
        expect(shown).to_have_attribute("data-read", "true")
        phones[REGION_A].online.set_offline(True)
        page.reload()  # offline: the message comes from the phone
        expect(shown).to_be_visible()
        expect(report(page, "Message read")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "observer-app-messages.png"), full_page=True)
        phones[REGION_A].online.set_offline(False)
        page.goto(f"{stack.ingest_url}/observe/?lang=ru")  # her language, when given
        expect(page.get_by_test_id("message")).to_have_text(re.compile("Проверьте пломбы урн"))
        page.goto(f"{stack.ingest_url}/observe/?lang=kk")  # else another one given
        expect(page.get_by_test_id("message")).to_have_text(re.compile("Check the seals"))

        pages[REGION_B].reload()
        expect(pages[REGION_B].get_by_test_id("stations")).to_contain_text(who[REGION_B].station_id)
        expect(pages[REGION_B].get_by_test_id("message")).to_have_count(0)
        expect(pages[REGION_B].get_by_test_id("messages-panel")).to_be_hidden()
    finally:
        for phone in phones.values():
            phone.close()
    assert not [e for phone in phones.values() for e in phone.errors]


@dataclass
class FieldObserver(Observer):
    token: str = ""


def in_the_field(stack: Stack, region: str) -> FieldObserver:
    """A new observer of a new station of ``region``, with her PIN and a token of her own."""
    station = unique("PS")
    register(stack, station, region)
    observer = beside_the_browser(accredit, stack, station)
    pin = issue_pin(stack, observer)
    reply = sign_in(stack, observer, pin)
    assert reply.status_code == 201, reply.text
    return FieldObserver(observer, pin, station, "Aktau", reply.json()["token"])
