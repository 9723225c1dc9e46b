"""Registries, checklists, turnout, protocols, corroboration and triage through the real
services: HTTP in, Kafka, projector, PostgreSQL, HTTP (and the live stream) out."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_live import live_stream, read_until
from tests.factories import envelope, stuffing, unique
from tests.stack import Stack, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"
AT_10, AT_12 = "2024-03-17T10:05:00+05:00", "2024-03-17T12:05:00+05:00"
OPENING = {"observers_admitted": "all", "ballot_box_sealed": False,
           "voter_list_available": True, "commission_members_present": 7}


def registered(station: str, region: str, voters: int = 1000, **fields: Any) -> dict[str, Any]:
    return envelope("station.registered", {"number": 1, "address": "School 1", "region": region,
                                           "registered_voters": voters},
                    station_id=station, place={"region": region}, **fields)


def at_station(type_: str, station: str, region: str, payload: dict[str, Any],
               **fields: Any) -> dict[str, Any]:
    fields.setdefault("occurred_at", AT_10)
    return envelope(type_, payload, station_id=station, place={"region": region}, **fields)


def accepted(stack: Stack, *events: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = stack.post_batch(list(events)).json()["results"]
    assert [r["code"] for r in results] == [202] * len(events), results
    return results


def region_stations(stack: Stack, region: str) -> dict[str, dict[str, Any]]:
    found = stack.get(f"/v1/regions/{region}/stations").json()["stations"]
    return {s["station_id"]: s for s in found}


def test_csv_import_region_listing_observers_and_unknown_station_warning(
        stack: Stack, tmp_path: Path) -> None:
    region, a, b = unique("region"), unique("PS"), unique("PS")
    csv = tmp_path / "stations.csv"
    csv.write_text("station_id,number,address,region,district,city,registered_voters,lat,lon\n"
                   f"{a},660,School 12,{region},North,Petropavlovsk,2140,54.87,69.14\n"
                   f"{b},661,School 14,{region},,,1800,,\n")
    args = [str(SAYLAU), "stations", "import", str(csv), "--ingest", stack.ingest_url,
            "--key", stack.writer_key, "--at", "2024-03-01T09:00:00+05:00"]
    for _ in range(2):  # a re-import is all duplicates
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0 and "2 of 2 stations recorded" in done.stdout, done
    accepted(stack, envelope("observer.accredited", {"observer_id": a, "organisation": "ED",
                                                     "name": "Aigerim", "station_id": a}))
    [known, unknown] = accepted(stack, stuffing(a, place={"region": region}),
                                stuffing(ghost := unique("PS"), place={"region": region}))
    assert known["warnings"] == [] and ghost in unknown["warnings"][0]
    listed = wait_until(lambda: (s := region_stations(stack, region)) and s[a]["reports"] == 1
                        and s[a]["observer_present"] and ghost in s and b in s and s)
    assert (listed[a]["number"], listed[a]["registered_voters"], listed[a]["city"]) == (
        660, 2140, "Petropavlovsk")
    assert not listed[b]["observer_present"] and listed[b]["registered"]
    assert not listed[ghost]["registered"] and listed[ghost]["reports"] == 1
    accepted(stack, envelope("observer.accreditation_revoked", {"observer_id": a},
                             occurred_at=AT_12))  # later than the accreditation
    wait_until(lambda: not region_stations(stack, region)[a]["observer_present"])


def test_checklist_answers_are_checked_and_violations_become_incidents(stack: Stack) -> None:
    region, station = unique("region"), unique("PS")
    wrong = at_station("checklist.submitted", station, region, {
        "checklist_id": "opening", "version": 1, "answers": {**OPENING, "ballot_box_sealed": 0}})
    reply = stack.post(wrong)
    assert reply.status_code == 422
    assert reply.json()["detail"] == [{"loc": ["payload", "answers", "ballot_box_sealed"],
                                       "msg": "expected true or false"}]
    accepted(stack, at_station("checklist.submitted", station, region, {
        "checklist_id": "opening", "version": 1, "answers": OPENING}))
    found = wait_until(lambda: (r := stack.get(f"/v1/stations/{station}")).status_code == 200
                       and r.json())
    assert found["incidents"] == {"checklist.violation:opening.ballot_box_sealed": 1}


def alerts_at(stack: Stack, station: str) -> set[str]:
    found = stack.walk("/v1/breaches", "breaches")
    return {b["rule_id"] for b in found if b["station_id"] == station and b["status"] == "open"}


def test_turnout_jump_protocol_sums_and_regional_turnout(stack: Stack) -> None:
    region, station = unique("region"), unique("PS")
    protocol = {"voters_on_list": 1000, "ballots_issued": 520, "ballots_cast": 500,
                "invalid_ballots": 5, "votes": {"A": 400, "B": 90}}
    accepted(stack, registered(station, region),
             at_station("turnout.reported", station, region, {"hour": 10, "voters": 100}),
             at_station("turnout.reported", station, region, {"hour": 12, "voters": 500},
                        occurred_at=AT_12),
             at_station("protocol.reported", station, region, protocol, occurred_at=AT_12),
             envelope("turnout.announced", {"hour": 12, "percent": 70.0},
                      place={"region": region}, occurred_at=AT_12))
    wait_until(lambda: alerts_at(stack, station) == {"turnout.jump",
                                                     "protocol.votes_do_not_add_up"})
    # the announcement is keyed by region, the reports by station: wait for both
    [hour_10, hour_12] = wait_until(lambda: (h := stack.get(
        f"/v1/regions/{region}/turnout").json()["hours"]) and h[-1]["announced_percent"] and h)
    assert (hour_10["observed_percent"], hour_10["announced_percent"]) == (10.0, None)
    assert (hour_12["observed_percent"], hour_12["announced_percent"],
            hour_12["difference_points"]) == (50.0, 70.0, 20.0)
    accepted(stack, at_station("turnout.reported", station, region, {"hour": 12, "voters": 390},
                               occurred_at="2024-03-17T12:30:00+05:00"))  # a corrected count
    wait_until(lambda: alerts_at(stack, station) == {"protocol.votes_do_not_add_up"})


def test_corroborating_reports_are_one_incident_and_counts_say_both(stack: Stack) -> None:
    region, station = unique("region"), unique("PS")
    first = stuffing(station, place={"region": region}, occurred_at="2024-03-17T10:01:00+05:00")
    second = stuffing(station, place={"region": region}, source="sms-gateway",
                      occurred_at="2024-03-17T10:20:00+05:00")
    later = stuffing(station, place={"region": region}, occurred_at="2024-03-17T11:00:00+05:00")
    accepted(stack, first, second, later)
    found = wait_until(lambda: (r := stack.get(f"/v1/stations/{station}").json()).get(
        "total") == 3 and r)
    assert (found["incidents"], found["distinct_incidents"]) == (
        {"ballot.stuffing_observed": 3}, 2)
    groups = stack.get(f"/v1/stations/{station}/incidents").json()["incidents"]
    assert [(g["corroboration"], g["report_ids"]) for g in groups] == [
        (2, sorted([first["event_id"], second["event_id"]])), (1, [later["event_id"]])]
    accepted(stack, envelope("report.retracted", {"event_id": later["event_id"]}))
    wait_until(lambda: stack.get(f"/v1/stations/{station}").json()["distinct_incidents"] == 1)


def ingest_only_key(stack: Stack) -> str:
    done = subprocess.run([str(SAYLAU), "keys", "create", unique("partner"), "--scopes",
                           "ingest"], env=stack.env, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_triage_needs_its_scope_and_urgent_reports_are_pushed_at_once(stack: Stack) -> None:
    region, station = unique("region"), unique("PS")
    report = stuffing(station, place={"region": region})
    accepted(stack, report)
    claim = envelope("triage.claimed", {"event_id": report["event_id"], "operator": "dana"})
    refused = stack.post(claim, key=ingest_only_key(stack))
    assert refused.status_code == 403 and "triage scope" in refused.text
    with live_stream(stack, kinds="urgent", region=region) as stream:
        next(stream)  # hello
        accepted(stack, claim, envelope("triage.commented", {
            "event_id": report["event_id"], "note": "called back"}, occurred_at=AT_10), envelope(
            "triage.escalated", {"event_id": report["event_id"], "reason": "still stuffing"},
            occurred_at=AT_12))
        [pushed] = read_until(stream, lambda s: any(m.event == "change" for m in s))
    assert pushed.data["kind"] == "urgent" and pushed.data["station_id"] == station
    assert pushed.data["data"]["event_id"] == report["event_id"]
    queue = wait_until(lambda: (q := stack.get("/v1/triage").json()["reports"])
                       and q[0]["triage"]["urgent"] and q)
    top = queue[0]
    assert top["event_id"] == report["event_id"] and top["triage"]["claimed_by"] == "dana"
    assert [n["kind"] for n in top["triage"]["notes"]] == ["commented", "escalated"]
    assert httpx.get(f"{stack.api_url}/v1/triage").status_code == 401
