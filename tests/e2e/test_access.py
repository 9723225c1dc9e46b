"""Access: scoped keys, revocation without restart, redacted names, rate limits, closed CORS."""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from saylau.web.service import RateLimiter, allow_cors
from tests.factories import access_denied, detention, envelope, unique
from tests.stack import ROOT, Stack, wait_until

BURST = 5


@pytest.fixture(scope="module")
def guarded() -> Iterator[Stack]:
    """A stack with an auditor, a flooding partner and a tight per-partner rate limit."""
    stack = Stack(extra_env={"RATE_LIMIT_PER_SECOND": "1", "RATE_LIMIT_BURST": str(BURST)})
    stack.auditor_key, stack.flood_key = "ak_" + uuid.uuid4().hex, "fk_" + uuid.uuid4().hex
    stack.env["SAYLAU_API_KEYS"] += (f",auditor:{stack.auditor_key}:read+audit,"
                                     f"flood:{stack.flood_key}:ingest")
    try:
        yield stack.start()
    finally:
        stack.stop()


def saylau_keys(stack: Stack, *args: str) -> str:
    """The last line ``saylau keys …`` prints."""
    return keys_output(stack, *args).strip().splitlines()[-1]


def keys_output(stack: Stack, *args: str) -> str:
    """Run ``saylau keys …`` against the stack's database, as an operator would."""
    cli = "import sys; from saylau.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", cli, "keys", *args], cwd=ROOT,
                          env=stack.env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def call(stack: Stack, method: str, path: str, key: str | None, **kwargs: Any) -> httpx.Response:
    base = stack.ingest_url if path.startswith("/v1/events") and method == "POST" else stack.api_url
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)


def test_reads_need_a_key(guarded: Stack) -> None:
    for path in ("/v1/detentions", "/v1/stations", "/v1/breaches", "/v1/triage"):
        reply = call(guarded, "GET", path, None)
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"


def test_scopes_are_enforced(guarded: Stack) -> None:
    ingest_only = saylau_keys(guarded, "create", "hotline", "--scopes", "ingest")
    assert call(guarded, "GET", "/v1/detentions", ingest_only).status_code == 403
    assert call(guarded, "GET", "/v1/admin/dead-letters", guarded.reader_key).status_code == 403
    assert call(guarded, "GET", "/v1/admin/dead-letters", guarded.auditor_key).status_code == 403
    assert call(guarded, "GET", "/v1/admin/dead-letters", guarded.writer_key).status_code == 200
    replay = call(guarded, "POST", "/v1/admin/dead-letters/replay", guarded.reader_key,
                  json={"all": True})
    assert replay.status_code == 403
    assert call(guarded, "GET", "/v1/detentions", guarded.reader_key).status_code == 200


def test_revoked_key_is_refused_without_restart(guarded: Stack) -> None:
    partner = unique("golos")
    key = saylau_keys(guarded, "create", partner, "--scopes", "ingest,read")
    event = detention(unique(), 2)
    assert guarded.post(event, key=key).status_code == 202
    shown = wait_until(lambda: (r := call(guarded, "GET", f"/v1/events/{event['event_id']}",
                                          key)).status_code == 200 and r.json())
    assert shown["record"]["partner"] == partner  # events record who sent them
    assert key_state(guarded, partner) == "active"
    assert saylau_keys(guarded, "revoke", key) == "revoked"
    wait_until(lambda: guarded.post(detention(unique(), 1), key=key).status_code == 401, 5)
    wait_until(lambda: call(guarded, "GET", "/v1/detentions", key).status_code == 401, 5)
    assert key_state(guarded, partner).startswith("revoked ")


def key_state(stack: Stack, partner: str) -> str:
    """The state column ``saylau keys list`` prints for this partner's only key."""
    listed = keys_output(stack, "list")
    rows = [line for line in listed.splitlines() if line.split()[:1] == [partner]]
    assert len(rows) == 1, listed
    return " ".join(rows[0].split()[2:])  # partner, scopes, then the state


def redactable_events(station: str) -> list[dict[str, Any]]:
    observers, detained = access_denied(station), detention(unique(), 2, station_id=station)
    observers["payload"]["names"] = ["Aigerim Sadykova", "Daniyar Ospanov"]
    detained["payload"]["persons"] = ["Zhanat Reimov", "Arsen Zhumagaliev"]
    return [observers, detained]


def test_names_are_redacted_for_read_only_keys(guarded: Stack) -> None:
    station = unique("PS")
    events = redactable_events(station)
    for event in events:
        assert guarded.post(event).status_code == 202
    for event in events:
        eid = event["event_id"]
        wait_until(lambda eid=eid: call(guarded, "GET", f"/v1/events/{eid}",
                                        guarded.reader_key).status_code == 200)
        as_reader = call(guarded, "GET", f"/v1/events/{eid}", guarded.reader_key).json()
        as_auditor = call(guarded, "GET", f"/v1/events/{eid}", guarded.auditor_key).json()
        field = "names" if "names" in event["payload"] else "persons"
        assert as_reader["record"]["payload"][field] == "[redacted]"
        assert as_auditor["record"]["payload"][field] == event["payload"][field]
        assert "Aigerim" not in str(as_reader) and "Zhanat" not in str(as_reader)
    timeline = call(guarded, "GET", f"/v1/stations/{station}/timeline", guarded.reader_key)
    assert "Aigerim" not in timeline.text and "Zhanat" not in timeline.text
    assert len(timeline.json()["events"]) == 2
    audited = call(guarded, "GET", f"/v1/stations/{station}/timeline", guarded.auditor_key)
    assert "Aigerim Sadykova" in audited.text and "Zhanat Reimov" in audited.text


def test_a_head_count_is_not_personal_data(guarded: Stack) -> None:
    event = envelope("unauthorised_person.present", {"persons": 2}, station_id=unique("PS"),
                     place={"region": "Almaty", "city": "Almaty"})
    assert guarded.post(event).status_code == 202
    path = f"/v1/events/{event['event_id']}"
    wait_until(lambda: call(guarded, "GET", path, guarded.reader_key).status_code == 200)
    assert call(guarded, "GET", path, guarded.reader_key).json()["record"]["payload"] == {
        "persons": 2}


def test_rate_limit_is_per_partner_with_retry_after(guarded: Stack) -> None:
    events = [detention(unique(), 1) for _ in range(BURST + 3)]
    replies = [guarded.post(event, key=guarded.flood_key) for event in events]
    codes = [r.status_code for r in replies]
    assert codes[:BURST] == [202] * BURST and 429 in codes, codes
    limited = next(r for r in replies if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "flood" in limited.json()["detail"]
    assert guarded.post(detention(unique(), 1)).status_code == 202  # other partners unaffected
    time.sleep(int(limited.headers["retry-after"]))
    refused = events[codes.index(429)]
    assert guarded.post(refused, key=guarded.flood_key).status_code == 202  # not appended before


def test_cors_is_closed_by_default(guarded: Stack) -> None:
    origin = {"Origin": "https://evil.example"}
    preflight = {**origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    for base in (guarded.ingest_url, guarded.api_url):
        reply = httpx.options(f"{base}/v1/events", headers=preflight)
        assert "access-control-allow-origin" not in reply.headers
    reply = httpx.get(f"{guarded.api_url}/v1/detentions",
                      headers={**origin, "Authorization": f"Bearer {guarded.reader_key}"})
    assert reply.status_code == 200 and "access-control-allow-origin" not in reply.headers


def test_cors_opens_only_to_configured_origins() -> None:
    app = FastAPI()
    app.get("/ping")(lambda: {"ok": True})
    allow_cors(app, "https://centre.example, https://ngo.example")
    client = TestClient(app)
    allowed = client.get("/ping", headers={"Origin": "https://ngo.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ngo.example"
    other = client.get("/ping", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_token_bucket_refills_at_the_rate() -> None:
    bucket = RateLimiter(rate=2.0, burst=3)
    assert [bucket.wait_for("p", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.wait_for("p", now=0.0) == pytest.approx(0.5)
    assert bucket.wait_for("q", now=0.0) == 0.0  # per partner
    assert bucket.wait_for("p", now=0.5) == 0.0
    assert RateLimiter(rate=0, burst=0).wait_for("p") == 0.0  # 0 turns the limit off
