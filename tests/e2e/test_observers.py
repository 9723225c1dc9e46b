"""Observers in the field, against the real services: PIN sign-in and lock-out, what her token
may post and read, revocation within 5 seconds, assignments, presence and coverage."""
from __future__ import annotations

import asyncio
import csv
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from saylau.settings import Settings
from tests.evidence_files import png_with_text
from tests.factories import detention, envelope, unique
from tests.stack import ROOT, Stack, execute_sql, wait_until

ELECTION = "kz-2023-03-19"
PER_ADDRESS = 20


@pytest.fixture(scope="module")
def field() -> Iterator[Stack]:
    stack = Stack(extra_env={"OBSERVER_SIGNIN_PER_MINUTE": str(PER_ADDRESS)})
    try:
        yield stack.start()
    finally:
        stack.stop()


def fetchval(query: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(Settings().dsn)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    cli = "import sys; from saylau.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", cli, *args], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=120, check=False)


def an_address() -> str:
    """A client address of its own (ingest trusts X-Forwarded-For from 127.0.0.1, as uvicorn
    does by default), so each test has its own per-address allowance."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def register(stack: Stack, station: str, region: str, number: int = 1) -> None:
    assert stack.post(envelope("station.registered", {
        "number": number, "region": region, "city": "Petropavlovsk", "address": "School 12",
        "registered_voters": 1800, "lat": 54.87, "lon": 69.14}, station_id=station)
    ).status_code == 202


def accredit(stack: Stack, station: str, election: str | None = ELECTION,
             observer: str | None = None) -> str:
    """A new observer accredited to ``station``, once the read models have her."""
    observer = observer or unique("ED")
    fields = {"election_id": election} if election else {}
    assert stack.post(envelope("observer.accredited", {
        "observer_id": observer, "organisation": "El Dauysy", "name": "Aigerim Nurlanovna",
        "station_id": station}, **fields)).status_code == 202
    wait_until(lambda: fetchval(f'SELECT accredited FROM "{stack.name}".observers '
                                "WHERE observer_id = $1", observer), 30)
    return observer


def issue_pin(stack: Stack, observer: str) -> str:
    done = saylau(stack, "observers", "issue-pin", observer)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def sign_in(stack: Stack, observer: str, pin: str, address: str | None = None
            ) -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/observer/session", timeout=30,
                      json={"observer_id": observer, "pin": pin},
                      headers={"X-Forwarded-For": address or an_address()})


def signed_in(stack: Stack, station: str, region: str = "North Kazakhstan") -> tuple[str, str]:
    """(observer id, token) of a new observer of ``station``."""
    observer = accredit(stack, station)
    reply = sign_in(stack, observer, issue_pin(stack, observer))
    assert reply.status_code == 201, reply.text
    return observer, reply.json()["token"]


def post(stack: Stack, token: str, event: dict[str, Any]) -> httpx.Response:
    return stack.post(event, key=token)


def me(stack: Stack, token: str) -> httpx.Response:
    return httpx.get(f"{stack.ingest_url}/v1/observer/me", timeout=30,
                     headers={"Authorization": f"Bearer {token}"})


def at(station: str, type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    return envelope(type_, payload, station_id=station, election_id=ELECTION,
                    place={"region": "North Kazakhstan", "city": "Petropavlovsk"})


def test_sign_in_gives_a_token_for_36_hours_and_her_election_stations_and_forms(
        field: Stack) -> None:
    station, region = unique("PS"), unique("region")
    register(field, station, region, number=660)
    observer = accredit(field, station)
    before = datetime.now(UTC)
    reply = sign_in(field, observer, issue_pin(field, observer))
    assert reply.status_code == 201, reply.text
    session = reply.json()
    assert session["observer_id"] == observer and session["token"].startswith("ob_")
    assert datetime.fromisoformat(session["expires_at"]) >= before + timedelta(hours=36)
    assert fetchval(f'SELECT count(*) FROM "{field.name}_ingest".observer_tokens '
                    "WHERE token_hash = $1", session["token"]) == 0  # only its hash is kept
    mine = me(field, session["token"])
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["observer_id"] == observer and body["messages"] == [] and "name" not in body
    assert body["election"] == {"election_id": ELECTION, "name": body["election"]["name"],
                                "voting_day": "2023-03-19", "stations_open": "07:00",
                                "stations_close": "20:00", "timezone": "Asia/Almaty"}
    assert body["stations"] == [{"station_id": station, "number": 660, "address": "School 12",
                                 "region": region, "city": "Petropavlovsk", "lat": 54.87,
                                 "lon": 69.14}]
    assert body["forms"]["checklists"][0]["label"]["kk"]
    assert {"type", "label", "help", "fields"} <= body["forms"]["incident_types"][0].keys()
    assert len(body["version"]) == 16 and me(field, session["token"]).json()["version"] == \
        body["version"]


def test_a_wrong_pin_is_401_and_an_unknown_observer_too(field: Stack) -> None:
    observer = accredit(field, unique("PS"))
    pin = issue_pin(field, observer)
    wrong = str((int(pin) + 1) % 10 ** len(pin)).zfill(len(pin))
    for attempt in (sign_in(field, observer, wrong), sign_in(field, unique("ED"), pin)):
        assert attempt.status_code == 401 and attempt.json()["detail"] == \
            "wrong observer id or PIN"
    assert sign_in(field, observer, "12ab").status_code == 422


def test_five_wrong_pins_lock_her_out_until_unlocked_or_15_minutes(field: Stack) -> None:
    observer = accredit(field, unique("PS"))
    pin = issue_pin(field, observer)
    wrong = str((int(pin) + 1) % 10 ** len(pin)).zfill(len(pin))
    codes = [sign_in(field, observer, wrong).status_code for _ in range(4)]
    fifth = sign_in(field, observer, wrong)
    assert codes == [401] * 4 and fifth.status_code == 429
    assert 890 <= int(fifth.headers["Retry-After"]) <= 900
    right = sign_in(field, observer, pin)
    assert right.status_code == 429 and "saylau observers unlock" in right.json()["detail"]
    done = saylau(field, "observers", "unlock", observer)
    assert done.returncode == 0, done.stderr
    assert sign_in(field, observer, pin).status_code == 201
    for _ in range(5):
        sign_in(field, observer, wrong)
    assert sign_in(field, observer, pin).status_code == 429
    execute_sql(f'UPDATE "{field.name}_ingest".observer_pins SET locked_until = now() '
                f"- interval '1 second' WHERE observer_id = '{observer}'")  # 15 minutes on
    assert sign_in(field, observer, pin).status_code == 201


def test_a_new_pin_replaces_the_old_one_and_leaves_her_token_alone(field: Stack) -> None:
    observer = accredit(field, unique("PS"))
    first = issue_pin(field, observer)
    token = sign_in(field, observer, first).json()["token"]
    second = issue_pin(field, observer)
    assert sign_in(field, observer, first).status_code == 401
    assert sign_in(field, observer, second).status_code == 201
    assert me(field, token).status_code == 200


def test_an_accreditation_without_an_election_cannot_sign_in(field: Stack) -> None:
    observer = accredit(field, unique("PS"), election=None)
    reply = sign_in(field, observer, issue_pin(field, observer))
    assert reply.status_code == 403 and "names no election" in reply.json()["detail"]


def test_a_revocation_stops_her_token_within_5_seconds(field: Stack) -> None:
    station = unique("PS")
    observer, token = signed_in(field, station)
    pin = issue_pin(field, observer)
    assert me(field, token).status_code == 200
    assert field.post(envelope("observer.accreditation_revoked", {  # after the accreditation
        "observer_id": observer, "reason": "certificate not notarised"},
        occurred_at="2021-01-10T18:00:00+06:00")).status_code == 202
    revoked = time.monotonic()
    wait_until(lambda: me(field, token).status_code == 401, 5, 0.05)
    assert time.monotonic() - revoked < 5
    assert me(field, token).json()["detail"] == "accreditation revoked: certificate not notarised"
    report = post(field, token, at(station, "turnout.reported", {"hour": 10, "voters": 5}))
    assert report.status_code == 401 and "accreditation revoked" in report.json()["detail"]
    again = sign_in(field, observer, pin)
    assert again.status_code == 401 and again.json()["detail"].startswith("accreditation revoked")


def test_her_token_posts_field_reports_only_hers_and_reads_nothing_on_the_api(
        field: Stack) -> None:
    station, elsewhere = unique("PS"), unique("PS")
    observer, token = signed_in(field, station)
    registry = envelope("station.registered", {"number": 1, "region": "Almaty", "address": "x",
                                               "registered_voters": 10}, station_id=station)
    refused = post(field, token, registry)
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["loc"] == ["type"]
    assert "station.registered" in refused.json()["detail"][0]["msg"]
    for path in ("/v1/detentions", "/v1/stations", "/v1/regions", "/v1/coverage"):
        read = httpx.get(f"{field.api_url}{path}", headers={"Authorization": f"Bearer {token}"})
        assert read.status_code == 403, (path, read.text)
    other = post(field, token, at(station, "observer.arrived", {"observer_id": unique("ED")}))
    assert other.status_code == 403
    assert other.json()["detail"][0]["loc"] == ["payload", "observer_id"]
    away = at(elsewhere, "ballot.stuffing_observed", {"ballots": 30})
    denied = post(field, token, away)
    assert denied.status_code == 403 and denied.json()["detail"][0]["loc"] == ["station_id"]
    assert elsewhere in denied.json()["detail"][0]["msg"]
    assert field.post(envelope("observer.assigned", {
        "observer_id": observer, "station_ids": [elsewhere]})).status_code == 202
    wait_until(lambda: post(field, token, away).status_code == 202, 10, 0.2)
    again = post(field, token, away)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    stored = wait_until(lambda: (r := field.get(f"/v1/events/{away['event_id']}")
                                 ).status_code == 200 and r.json())
    assert stored["record"]["partner"] == f"observer:{observer}"


def test_place_keyed_reports_batches_and_evidence_from_anywhere(field: Stack) -> None:
    station = unique("PS")
    _, token = signed_in(field, station)
    auth = {"Authorization": f"Bearer {token}"}
    upload = httpx.post(f"{field.ingest_url}/v1/evidence", headers=auth, timeout=30,
                        files={"file": ("p.png", png_with_text(uuid.uuid4().bytes), "image/png")})
    assert upload.status_code == 201, upload.text
    square = detention(unique(), 3, region="Almaty",
                       evidence=[{"sha256": upload.json()["sha256"]}])
    batch = httpx.post(f"{field.ingest_url}/v1/events:batch", headers=auth, timeout=30, json=[
        square, at(station, "turnout.reported", {"hour": 10, "voters": 40}),
        envelope("observer.accredited", {"observer_id": unique("ED"), "organisation": "X",
                                         "name": "Someone"}, election_id=ELECTION)])
    assert [r["code"] for r in batch.json()["results"]] == [202, 202, 403]
    assert batch.json()["results"][2]["errors"][0]["loc"] == ["type"]


def test_coverage_counts_observers_assigned_and_present(field: Stack) -> None:
    region = unique("region")
    s1, s2, s3 = unique("PS"), unique("PS"), unique("PS")
    for number, station in enumerate((s1, s2, s3), 1):
        register(field, station, region, number)
    a, token = signed_in(field, s1)
    accredit(field, s1)
    assert field.post(envelope("observer.assigned", {"observer_id": a, "station_ids": [s2]})
                      ).status_code == 202
    assert post(field, token, at(s1, "observer.arrived", {"observer_id": a})).status_code == 202

    def covered() -> dict[str, Any] | None:
        got = field.get("/v1/coverage", election_id=ELECTION, region=region)
        assert got.status_code == 200, got.text
        rows = {s["station_id"]: s for s in got.json()["stations"]}
        counts = [(rows[s]["observers_assigned"], rows[s]["observers_present"])
                  for s in (s1, s2, s3)]
        return got.json() if counts == [(2, 1), (1, 0), (0, 0)] else None

    body = wait_until(covered, 30, 0.2)
    rows = {s["station_id"]: s for s in body["stations"]}
    assert rows[s1]["last_report_at"] is not None and rows[s3]["last_report_at"] is None
    assert not any(s["silent"] for s in body["stations"])  # voting day 2023: long closed
    assert body["regions"] == [{"region": region, "stations": 3, "assigned": 3, "present": 1,
                                "silent": 0}]
    unknown = field.get("/v1/coverage", election_id="kz-1999-01-01")
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == [
        "query", "election_id"]


def test_one_address_may_try_so_often_a_minute(field: Stack) -> None:
    address, codes, started = an_address(), [], time.monotonic()
    while 429 not in codes and len(codes) < 200:
        codes.append(sign_in(field, unique("ED"), "12345678", address).status_code)
    refilled = (time.monotonic() - started) * PER_ADDRESS / 60  # one back every 3 s meanwhile
    assert 429 in codes and set(codes[:codes.index(429)]) == {401}, codes
    assert PER_ADDRESS <= codes.index(429) <= PER_ADDRESS + refilled + 1, codes
    limited = sign_in(field, unique("ED"), "12345678", address)
    assert limited.status_code == 429 and "address" in limited.json()["detail"]
    assert int(limited.headers["Retry-After"]) >= 1
    assert sign_in(field, unique("ED"), "12345678").status_code == 401  # other addresses


def test_pins_for_a_whole_election_as_a_csv_only_its_owner_reads(field: Stack,
                                                                  tmp_path: Path) -> None:
    election = "kz-2021-01-10"  # the other tests accredit for 2023
    first, second = (accredit(field, unique("PS"), election=election) for _ in range(2))
    cards = tmp_path / "pins.csv"
    done = saylau(field, "observers", "issue-pin", "--all", "--election", election,
                  "--output", str(cards))
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(cards.open(encoding="utf-8")))
    pins = dict(rows[1:])
    assert rows[0] == ["observer_id", "pin"] and {first, second} <= pins.keys()
    assert all(len(pin) == 8 and pin.isdigit() for pin in pins.values())
    assert cards.stat().st_mode & 0o777 == 0o600
    assert sign_in(field, second, pins[second]).status_code == 201
    assert saylau(field, "observers", "issue-pin", "--all").returncode == 2
