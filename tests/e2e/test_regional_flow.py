"""A coordinator's flows hold only her regions (issue 31): the live stream and its resumed
backlog, the webhooks her key registers, triage on another region's report (answered as an
unknown report), and ``actor`` on every triage event, which no body can forge."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from saylau.web.keys import hash_key
from tests.e2e.test_live import event_ids, live_stream, read_until
from tests.e2e.test_webhooks import Receiver
from tests.factories import access_denied, detention, envelope, stuffing, unique
from tests.stack import Stack, execute_sql, wait_until

A, B = "Almaty", "Karaganda"
TRIAGE = {"triage.claimed": {}, "triage.commented": {"note": "called the observer"},
          "triage.escalated": {"reason": "violence"}, "report.verified": {},
          "report.rejected": {}}


@dataclass
class Region:
    """A region's traffic: its ids, station numbers and cities (what the other region's
    coordinator must never receive)."""

    name: str
    city: str = field(default_factory=unique)
    station: str = field(default_factory=lambda: unique("PS"))
    registered: str = field(default_factory=lambda: unique("PS"))
    """A station known only by its registry entry: its reports carry no place."""
    ids: list[str] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        return [self.name, self.city, self.station, self.registered, *self.ids]


@pytest.fixture(scope="module")
def regional() -> Iterator[Stack]:
    running = Stack(extra_env={"WEBHOOK_BACKOFF_SECONDS": "0.5", "WEBHOOK_POLL_SECONDS": "0.5",
                               "WEBHOOK_ALLOW_HOSTS": "127.0.0.1/32"}).start()
    running.start_webhooks()
    yield running
    running.stop()


def coordinator(stack: Stack, region: str) -> tuple[str, str]:
    """A new key of a coordinator's tool (triage and reads, bound to ``region``) and its
    partner."""
    key, partner = "sw_" + uuid.uuid4().hex, unique("coord")
    execute_sql(f'INSERT INTO "{stack.name}_ingest".api_keys (key_hash, partner, scopes, '
                f"regions) VALUES ('{hash_key(key)}', '{partner}', "
                f"'{{ingest,read,triage}}', '{{{region}}}')")
    return key, partner


def post(stack: Stack, event: dict[str, Any], key: str | None = None) -> httpx.Response:
    reply = stack.post(event, key)
    assert reply.status_code == 202, reply.text
    return reply


def stored(stack: Stack, event_id: str) -> dict[str, Any]:
    return wait_until(lambda: (r := stack.get(f"/v1/events/{event_id}")).status_code == 200
                      and r.json(), 60)


def traffic(stack: Stack, region: Region) -> None:
    """Reports in ``region`` (at a place, at a station, at a registered station only) and
    the centre's triage of one of them; returns once every one is stored."""
    post(stack, envelope("station.registered", {
        "number": 7, "region": region.name, "address": "School 7", "registered_voters": 900},
        station_id=region.registered))
    reports = [detention(region.city, 3, region=region.name),
               stuffing(region.station, place={"region": region.name, "city": region.city}),
               access_denied(region.registered, place=None)]
    for report in reports:
        post(stack, report)
    target = reports[0]["event_id"]
    actions = [envelope("triage.claimed", {"event_id": target, "operator": "centre"}),
               envelope("triage.escalated", {"event_id": target, "reason": "beaten"})]
    for action in actions:
        post(stack, action)
    region.ids += [e["event_id"] for e in reports + actions]
    for event_id in region.ids:
        stored(stack, event_id)


def holds_none_of(text: str, other: Region) -> None:
    leaked = [s for s in other.secrets if s in text]
    assert not leaked, f"{other.name}'s data reached the other coordinator: {leaked}"


def test_a_coordinators_live_stream_and_its_resync_carry_only_her_region(
        regional: Stack) -> None:
    a, b = Region(A), Region(B)
    (key_a, _), (key_b, _) = coordinator(regional, A), coordinator(regional, B)
    with live_stream(regional, key=key_a) as stream:
        start = next(stream).data["cursor"]
        traffic(regional, b)
        traffic(regional, a)
        marker = detention(a.city, 1, region=A)
        post(regional, marker)
        seen = read_until(stream, lambda s: marker["event_id"] in event_ids(s))
    with live_stream(regional, last_event_id=start, key=key_a) as stream:
        resumed = read_until(stream, lambda s: s[-1:] != [] and s[-1].event == "caught_up")
    for messages in (seen, resumed):
        changes = [m.data for m in messages if m.event == "change"]
        assert {c["region"] for c in changes} == {A}
        holds_none_of(orjson.dumps(changes).decode(), b)
        assert set(a.ids) <= set(event_ids(messages))  # her triage events too: her region's
    assert resumed[-1].data["missed"] == len(resumed) - 2  # all but hello and caught_up
    with live_stream(regional, last_event_id=start, key=key_b) as stream:
        theirs = read_until(stream, lambda s: s[-1:] != [] and s[-1].event == "caught_up")
    assert set(b.ids) <= set(event_ids(theirs))  # the registered station's report included
    holds_none_of(orjson.dumps([m.data for m in theirs]).decode(), a)


def test_a_regional_keys_webhook_receives_only_its_region(regional: Stack) -> None:
    a, b = Region(A), Region(B)
    key_a, _ = coordinator(regional, A)
    receiver = Receiver().start()
    kinds = ["event", "station", "detentions", "breach", "incident", "urgent"]
    hook = httpx.post(f"{regional.api_url}/v1/webhooks", timeout=30,
                      json={"url": receiver.url, "kinds": kinds},
                      headers={"Authorization": f"Bearer {key_a}"})
    assert hook.status_code == 201, hook.text
    assert hook.json()["reach"] == [A]
    elsewhere = httpx.post(f"{regional.api_url}/v1/webhooks", timeout=30,
                           json={"url": receiver.url, "kinds": kinds, "region": B},
                           headers={"Authorization": f"Bearer {key_a}"})
    assert elsewhere.status_code == 422 and "region" in elsewhere.json()["detail"][0]["loc"]
    traffic(regional, b)
    traffic(regional, a)
    marker = detention(a.city, 1, region=A)
    post(regional, marker)
    wait_until(lambda: any(body["data"].get("event_id") == marker["event_id"]
                           for body in receiver.bodies()), 60)
    bodies = receiver.bodies()
    assert {body["region"] for body in bodies} == {A}
    assert set(a.ids) <= {body["data"].get("event_id") for body in bodies}
    holds_none_of(orjson.dumps(bodies).decode(), b)


def answer(reply: httpx.Response, own_id: str) -> tuple[int, str]:
    """A reply with the posted event's own id blanked (each item has its own)."""
    return reply.status_code, reply.text.replace(own_id, "ID")


@pytest.mark.parametrize("type_name", sorted(TRIAGE))
def test_triage_on_another_regions_report_is_answered_as_an_unknown_report(
        regional: Stack, type_name: str) -> None:
    key_a, _ = coordinator(regional, A)
    theirs, ours = detention(unique(), 2, region=B), detention(unique(), 2, region=A)
    for report in (theirs, ours):
        post(regional, report)
        stored(regional, report["event_id"])
    answers = []
    for target in (theirs["event_id"], str(uuid.uuid4())):
        action = envelope(type_name, {"event_id": target, **TRIAGE[type_name]})
        answers.append(answer(regional.post(action, key_a), action["event_id"]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and "payload" in answers[0][1]
    post(regional, envelope(type_name, {"event_id": ours["event_id"], **TRIAGE[type_name]}),
         key_a)


def test_actor_is_who_posted_and_no_body_can_forge_it(regional: Stack) -> None:
    key_a, partner = coordinator(regional, A)
    report = detention(unique(), 2, region=A)
    post(regional, report)
    stored(regional, report["event_id"])
    claim = {"event_id": report["event_id"], "operator": "Dana"}
    forged = [envelope("triage.claimed", claim, actor="someone-else"),
              envelope("triage.claimed", {**claim, "actor": "someone-else"})]
    for attempt in forged:
        refused = regional.post(attempt, key_a)
        assert refused.status_code == 422, refused.text
        assert "actor" in refused.text
    action = envelope("triage.claimed", claim)
    post(regional, action, key_a)
    assert stored(regional, action["event_id"])["record"]["actor"] == partner
    queue = regional.walk("/v1/triage", "reports")
    summary = next(r["triage"] for r in queue if r["event_id"] == report["event_id"])
    assert (summary["claimed_by"], summary["claimed_actor"]) == ("Dana", partner)

