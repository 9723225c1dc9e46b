"""Quick count end to end: register stations over HTTP, draw the sample, report from the
sampled stations, find the truth inside the interval, announce an inflated official turnout
and see the discrepancy alert; the sample verifies from the log, a forged one does not, and
replay == live with the quick-count tables and alert."""
from __future__ import annotations

import random
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from saylau.domain.quickcount import FrameStation, draw_sample
from services.ingest.routes.quickcount import sample_event
from tests.e2e.test_audit import ALL_EQUAL, caught_up, fetch
from tests.e2e.test_personal_data import new_key
from tests.factories import envelope, unique
from tests.stack import Stack, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"
ELECTION = "qc-e2e-2021"
REGIONS = {"Akmola": 0.38, "Almaty": 0.47, "Atyrau": 0.55, "Kostanay": 0.62}
STATIONS = 40  # per region
AT_18, AT_20 = "2021-01-10T18:00:00+06:00", "2021-01-10T20:00:00+06:00"


def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env=stack.env,
                          capture_output=True, text=True, timeout=300)


def country() -> tuple[list[dict[str, Any]], dict[str, int], float]:
    """160 stations in four regions of different turnout: registrations, each station's
    voters, and the true national turnout in percent."""
    rng, registrations, voters = random.Random(16), [], {}
    for r, (region, level) in enumerate(REGIONS.items()):
        for i in range(STATIONS):
            station_id, registered = f"QC-{r}-{i:03d}", rng.randint(400, 2600)
            registrations.append(envelope(
                "station.registered", {"number": 100 * r + i + 1, "address": f"School {i}",
                                       "region": region, "registered_voters": registered},
                station_id=station_id, occurred_at="2021-01-09T10:00:00+06:00"))
            voters[station_id] = round(registered * min(0.95, max(0.1, rng.gauss(level, 0.08))))
    registered = sum(e["payload"]["registered_voters"] for e in registrations)
    return registrations, voters, 100 * sum(voters.values()) / registered


def reports(station_id: str, region: str, voters: int) -> list[dict[str, Any]]:
    """A sampled station's 18:00 count and its protocol (the election named: no calendar's)."""
    at = {"station_id": station_id, "place": {"region": region}, "election_id": ELECTION}
    first = round(voters * 0.55)
    return [envelope("turnout.reported", {"hour": 18, "voters": voters}, occurred_at=AT_18, **at),
            envelope("protocol.reported", {
                "voters_on_list": 3000, "ballots_issued": voters, "ballots_cast": voters,
                "invalid_ballots": 0, "votes": {"Nur Otan": first, "Ak Zhol": voters - first}},
                     occurred_at=AT_20, **at)]


def draw(stack: Stack, **body: Any) -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/quickcount/samples", timeout=30,
                      json={"election_id": ELECTION, "size": 48, "seed": 20210110, **body},
                      headers={"Authorization": f"Bearer {stack.writer_key}"})


def quickcount(stack: Stack, **params: Any) -> dict[str, Any]:
    reply = stack.get("/v1/quickcount", election_id=ELECTION, **params)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def alerts(stack: Stack) -> list[dict[str, Any]]:
    return stack.get("/v1/breaches", rule="quickcount.discrepancy").json()["breaches"]


@pytest.mark.slow
def test_quick_count_from_draw_to_discrepancy(own_stack: Stack, schemas: list[str]) -> None:
    stack = own_stack.start()
    registrations, voters, truth = country()
    assert stack.get("/v1/quickcount", election_id=ELECTION).status_code == 404
    assert draw(stack).status_code == 409  # no registered station yet
    assert {r["code"] for r in stack.post_batch(registrations).json()["results"]} == {202}
    wait_until(lambda: all(len(stack.get(f"/v1/regions/{r}/stations").json().get("stations", []))
                           == STATIONS for r in REGIONS), timeout=60)

    drawn = draw(stack)
    assert drawn.status_code == 201, drawn.text
    sample = drawn.json()
    assert len(sample["stations"]) == 48
    assert {s["region"]: s["frame"] for s in sample["strata"]} == dict.fromkeys(REGIONS, 40)
    assert sum(s["sampled"] for s in sample["strata"]) == 48
    assert draw(stack).status_code == 409  # one sample per election unless replaced
    assert draw(stack, size=0).status_code == 422
    wait_until(lambda: quickcount(stack)["sample"]["sample_id"] == sample["sample_id"])
    assert quickcount(stack)["sample"]["reported"] == 0

    region_of = {e["station_id"]: e["payload"]["region"] for e in registrations}
    sampled = sample["stations"]
    half = [e for s in sampled[::2] for e in reports(s, region_of[s], voters[s])]
    assert {r["code"] for r in stack.post_batch(half).json()["results"]} == {202}
    wait_until(lambda: quickcount(stack)["sample"]["reported"] == 24)
    early = quickcount(stack)["turnout"]

    inflated = truth + 15
    official = envelope("official.results_announced", {
        "level": "national", "turnout_percent": round(inflated, 1),
        "source": "CEC preliminary results"},
        election_id=ELECTION, occurred_at="2021-01-11T10:00:00+06:00")
    assert stack.post(official).status_code == 202
    wait_until(lambda: quickcount(stack)["official"] is not None)
    assert quickcount(stack)["discrepancies"] == [] and alerts(stack) == []  # 50 % < 80 %

    rest = [e for s in sampled[1::2] for e in reports(s, region_of[s], voters[s])]
    assert {r["code"] for r in stack.post_batch(rest).json()["results"]} == {202}
    wait_until(lambda: quickcount(stack)["sample"]["reported"] == 48)
    count = quickcount(stack)
    turnout = count["turnout"]
    assert turnout["confidence"] == 0.95
    assert turnout["ci_low"] <= truth <= turnout["ci_high"], (truth, turnout)
    assert turnout["ci_high"] - turnout["ci_low"] < early["ci_high"] - early["ci_low"]
    assert count["official"]["turnout"] == round(inflated, 1)
    assert {r["region"] for r in count["regions"]} == set(REGIONS)
    assert all(r["reported"] == r["sampled"] for r in count["regions"])
    assert set(count["shares"]) == {"Nur Otan", "Ak Zhol"}
    assert abs(count["shares"]["Nur Otan"]["estimate"] - 55.0) < 0.2  # the protocols' split
    wide = quickcount(stack, confidence=0.99)["turnout"]
    assert wide["ci_low"] < turnout["ci_low"] and wide["confidence"] == 0.99
    assert stack.get("/v1/quickcount", election_id=ELECTION, confidence=1.5).status_code == 422

    found = wait_until(lambda: alerts(stack))
    assert len(found) == 1 and found[0]["kind"] == "alert"
    detail = found[0]["detail"]
    assert detail["sample_id"] == sample["sample_id"] and detail["measure"] == "turnout"
    assert detail["official"] == round(inflated, 1) and detail["confidence"] == 0.99
    assert detail["ci_low"] <= truth <= detail["ci_high"] < detail["official"]
    assert [d["measure"] for d in count["discrepancies"]] == ["turnout"]
    pushed = fetch(f"SELECT data->>'breach_id' AS id FROM \"{stack.name}\".changes "
                   "WHERE kind = 'breach' AND data->>'rule_id' = 'quickcount.discrepancy'")
    assert {r["id"] for r in pushed} == {found[0]["breach_id"]}  # on the live stream

    verified = saylau(stack, "quickcount", "verify-sample", sample["sample_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert '"ok": true' in verified.stdout
    forged = envelope("sample.drawn", {**_payload(stack, sample["sample_id"]),
                                       "sample_id": "hand-picked",
                                       "replaces": sample["sample_id"]}, election_id=ELECTION)
    forged["payload"]["strata"][0]["station_ids"][0] = _unsampled(region_of, sampled,
                                                                  forged["payload"])
    reader = stack.post(forged, key=stack.reader_key)
    assert reader.status_code in (401, 403)
    assert stack.post(forged).status_code == 202
    refused = saylau(stack, "quickcount", "verify-sample", "hand-picked")
    assert refused.returncode == 1 and '"extra": [' in refused.stdout, refused.stdout

    wait_until(lambda: caught_up(stack), timeout=120, interval=0.5)
    schemas.append(f"replay_{stack.name}")
    done = saylau(stack, "replay", "--schema", schemas[0], "--order", "shuffle", "--seed", "5",
                  "--batch", "11")
    assert done.returncode == 0, done.stderr
    compared = saylau(stack, "compare", "--replay", schemas[0])
    assert ALL_EQUAL in compared.stdout, compared.stdout


def _payload(stack: Stack, sample_id: str) -> dict[str, Any]:
    rows = fetch(f'SELECT sample::text AS s FROM "{stack.name}".quickcount_samples')
    payload: dict[str, Any] = orjson.loads(rows[0]["s"])
    assert payload["sample_id"] == sample_id
    return payload


def _unsampled(region_of: dict[str, str], sampled: list[str], payload: dict[str, Any]) -> str:
    region = payload["strata"][0]["region"]
    return next(s for s, r in sorted(region_of.items()) if r == region and s not in sampled)


def test_a_sample_needs_an_admin_key_on_either_path(stack: Stack) -> None:
    """A key with every scope but admin can neither draw a sample nor post a
    ``sample.drawn`` through /v1/events; the same event from an admin key is accepted."""
    others = new_key(stack, unique("partner"), "ingest,read,audit,triage")
    election = f"qc-admin-{uuid.uuid4().hex[:8]}"
    frame = [FrameStation(f"{election}-{i}", "North", 1000) for i in range(3)]
    drawn = sample_event(draw_sample(frame, 2, 5, election_id=election,
                                     drawn_at=datetime.now(UTC)))
    reply = httpx.post(f"{stack.ingest_url}/v1/quickcount/samples", timeout=30,
                       json={"election_id": election, "size": 2, "seed": 5},
                       headers={"Authorization": f"Bearer {others}"})
    assert reply.status_code == 403, reply.text
    refused = stack.post(drawn, key=others)
    assert refused.status_code == 403 and "admin scope" in refused.text, refused.text
    assert stack.post(drawn).status_code == 202  # the writer's key has every scope
    bad = httpx.post(f"{stack.ingest_url}/v1/quickcount/samples", timeout=30,
                     json={"election_id": "X Y", "size": 5, "seed": -1},
                     headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"election_id", "seed"}


def test_draws_sent_at_once_give_one_sample(stack: Stack) -> None:
    """The 409 does not wait for the projection: of six draws sent together, one is drawn."""
    region, election = f"QC-race-{uuid.uuid4().hex[:6]}", f"qc-race-{uuid.uuid4().hex[:8]}"
    stations = [envelope("station.registered", {"number": 9000 + i, "address": f"School {i}",
                                                "region": region, "registered_voters": 900},
                         station_id=f"{region}-{i}", occurred_at="2021-01-09T10:00:00+06:00")
                for i in range(3)]
    assert stack.post_batch(stations).status_code == 200
    wait_until(lambda: len(stack.get(f"/v1/regions/{region}/stations").json().get("stations", [])) == 3)

    def one(_: int) -> int:
        return httpx.post(f"{stack.ingest_url}/v1/quickcount/samples", timeout=30,
                          json={"election_id": election, "size": 2, "seed": 7},
                          headers={"Authorization": f"Bearer {stack.writer_key}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(one, range(6)))
    assert codes == [201, 409, 409, 409, 409, 409]
    assert one(0) == 409  # and still before or after the projector has seen it


def test_a_sample_that_replaces_another_must_name_it_on_both_routes(stack: Stack) -> None:
    """A second ``sample.drawn`` for an election, through POST /v1/events as through the draw
    route, is refused with a 409 naming the current sample unless it names it in
    ``replaces`` (the route's ``replace`` flag does that for it)."""
    region, election = f"QC-repl-{uuid.uuid4().hex[:6]}", f"qc-repl-{uuid.uuid4().hex[:8]}"
    frame = [FrameStation(f"{region}-{i}", region, 900) for i in range(3)]
    assert stack.post_batch([envelope(
        "station.registered", {"number": 9100 + i, "address": "School", "region": region,
                               "registered_voters": 900},
        station_id=s.station_id, occurred_at="2021-01-09T10:00:00+06:00")
        for i, s in enumerate(frame)]).status_code == 200
    wait_until(lambda: len(stack.get(f"/v1/regions/{region}/stations").json().get("stations", [])) == 3)
    first = draw(stack, election_id=election, size=2)
    assert first.status_code == 201, first.text
    current = first.json()["sample_id"]

    def posted(seed: int, **payload: Any) -> httpx.Response:
        sample = draw_sample(frame, 2, seed, election_id=election, drawn_at=datetime.now(UTC))
        event = sample_event(sample)
        event["payload"].update(payload)
        return stack.post(event)

    refused = posted(1)
    assert refused.status_code == 409, refused.text
    assert current in refused.text and "replaces" in refused.text
    assert posted(2, replaces="not-the-current-one").status_code == 409
    replacing = posted(3, replaces=current)
    assert replacing.status_code == 202, replacing.text
    newest = replacing.json()["event_id"]

    again = draw(stack, election_id=election, size=2)
    assert again.status_code == 409 and newest in again.text
    replaced = draw(stack, election_id=election, size=2, replace=True)
    assert replaced.status_code == 201, replaced.text
    path = f"/v1/events/{replaced.json()['event_id']}"
    stored = wait_until(lambda: (r := stack.get(path)).status_code == 200 and r.json())
    assert stored["record"]["payload"]["replaces"] == newest
    fresh = f"qc-none-{uuid.uuid4().hex[:8]}"
    nothing = sample_event(draw_sample(frame, 2, 4, election_id=fresh,
                                       drawn_at=datetime.now(UTC)))
    nothing["payload"]["replaces"] = current
    assert stack.post(nothing).status_code == 409  # names a sample the election does not have


def test_a_confidence_too_close_to_one_is_refused_naming_the_field(stack: Stack) -> None:
    """0.5 + 0.9999999999999999 / 2 rounds to 1.0, whose quantile is infinite: was a 500."""
    region, election = f"QC-conf-{uuid.uuid4().hex[:6]}", f"qc-conf-{uuid.uuid4().hex[:8]}"
    frame = [FrameStation(f"{region}-{i}", region, 1000) for i in range(4)]
    sample = draw_sample(frame, 3, 5, election_id=election, drawn_at=datetime.now(UTC))
    events = [envelope("station.registered", {"number": 9200 + i, "address": "School",
                                              "region": region, "registered_voters": 1000},
                       station_id=s.station_id, occurred_at="2021-01-09T10:00:00+06:00")
              for i, s in enumerate(frame)]
    events += [sample_event(sample), *(envelope(
        "turnout.reported", {"hour": 20, "voters": 500 + 40 * n}, station_id=s,
        place={"region": region}, election_id=election) for n, s in enumerate(
            sample.station_ids))]
    assert {r["code"] for r in stack.post_batch(events).json()["results"]} == {202}
    wait_until(lambda: (r := stack.get("/v1/quickcount", election_id=election)).status_code
               == 200 and r.json()["sample"]["reported"] == 3)
    for confidence in ("0.9999999999999999", "1", "0", "nan"):
        reply = stack.get("/v1/quickcount", election_id=election, confidence=confidence)
        assert reply.status_code == 422, (confidence, reply.text)
        assert reply.json()["detail"][0]["loc"][-1] == "confidence"
    widest = stack.get("/v1/quickcount", election_id=election, confidence="0.9999")
    assert widest.status_code == 200 and widest.json()["turnout"]["confidence"] == 0.9999
