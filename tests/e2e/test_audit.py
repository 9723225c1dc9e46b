"""Audit end to end: replay == live after duplicates, a retraction and a projector crash, and
under live traffic; verify on the real log, on tampered exports and against signed
checkpoints; re-chained dead letters; exports; as-of; topic retention."""
from __future__ import annotations

import asyncio
import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from saylau.audit.logsource import KafkaLog
from saylau.domain.vocabulary import TARGETING
from saylau.envelope import canonical, content_hash
from saylau.log.chain import ChainHead
from saylau.log.checkpoint import key_id, signature_problem
from saylau.log.kafka import partition_for
from saylau.readmodels import audited_tables
from saylau.settings import Settings
from tests.background import Background
from tests.e2e.test_rollups import same_as_before
from tests.factories import access_denied, detention, envelope, release, stuffing, unique
from tests.stack import Stack, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"
AT_11, AT_12, AT_13 = ("2021-01-10T11:00:00+06:00", "2021-01-10T12:00:00+06:00",
                       "2021-01-10T13:00:00+06:00")
AT_15, AT_16 = "2021-01-10T15:00:00+06:00", "2021-01-10T16:00:00+06:00"
AUDITED = len(audited_tables())
ALL_EQUAL = f"{AUDITED}/{AUDITED} tables equal"


def saylau(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env={**stack.env, **env},
                          capture_output=True, text=True, timeout=600)


def ok(done: subprocess.CompletedProcess[str], status: int = 0) -> str:
    assert done.returncode == status, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


async def _fetch(query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(Settings().dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def fetch(query: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(query, *args))


def caught_up(stack: Stack) -> bool:
    """The live projector has stored, for every partition, the high watermark as next offset."""
    async def highs() -> dict[int, int]:
        async with KafkaLog(Settings().kafka_bootstrap, f"{stack.name}.events") as log:
            return {p: e.high for p, e in log.extents.items() if e.high}
    rows = fetch(f'SELECT kafka_partition, next_offset FROM "{stack.name}".projector_offsets')
    return {r["kafka_partition"]: r["next_offset"] for r in rows} == asyncio.run(highs())


def scenario(city: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A voting day with a detention at 11:00 and one at 16:00 in ``city``, station reports,
    and a 12:00 detention retracted at 13:00; returns (events, the retraction)."""
    stations = [unique("PS") for _ in range(8)]
    wrong = detention(city, 100, occurred_at=AT_12)
    events = [detention(city, 5, occurred_at=AT_11), detention(city, 7, occurred_at=AT_16),
              wrong, release(city, 2, occurred_at=AT_13),
              *[access_denied(s) for s in stations], *[stuffing(s) for s in stations],
              *[detention(unique(), n + 1) for n in range(30)]]
    return events, envelope("report.retracted", {"event_id": wrong["event_id"]},
                            occurred_at=AT_13)


def wave(n: int) -> list[dict[str, Any]]:
    city, stations = unique(), [unique("PS") for _ in range(20)]
    return [access_denied(stations[i % 20]) if i % 3 else detention(city, 1 + i % 4)
            for i in range(n)]


@pytest.mark.slow
def test_replay_equals_live_after_duplicates_retraction_and_crash(
        own_stack: Stack, schemas: list[str], tmp_path: Path) -> None:
    stack, city = own_stack.start(), unique()
    events, retraction = scenario(city)
    assert stack.post_batch(events).status_code == 200
    assert stack.post(events[0]).json()["status"] == "duplicate"
    assert [r["status"] for r in stack.post_batch(events[4:6]).json()["results"]] == \
        ["duplicate", "duplicate"]
    assert stack.post(retraction).status_code == 202
    assert stack.post_batch(wave(200)).status_code == 200
    stack.kill("projector")  # SIGKILL, mid-stream
    for _ in range(3):
        assert stack.post_batch(wave(150)).status_code == 200
    stack.start_projector()
    wait_until(lambda: caught_up(stack), timeout=120, interval=0.5)

    schemas += [f"replay_{stack.name}", f"replay_{stack.name}_shuffled"]
    assert "events/s" in ok(saylau(stack, "replay", "--schema", schemas[0]))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[0]))
    ok(saylau(stack, "replay", "--schema", schemas[1], "--order", "shuffle", "--seed", "7",
              "--batch", "13"))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[1]))
    schemas.append(f"replay_{stack.name}_processes")  # partitions shared by three processes
    out = ok(saylau(stack, "replay", "--schema", schemas[-1], "--processes", "3", "--batch", "11"))
    assert "(3 process(es) x 1 partition workers" in out
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[-1]))

    assert "OK" in ok(saylau(stack, "verify"))
    export = tmp_path / "log.ndjson"
    ok(saylau(stack, "export", "-o", str(export)))
    assert "OK" in ok(saylau(stack, "verify", "--from-export", str(export)))
    schemas.append(f"replay_{stack.name}_offline")
    ok(saylau(stack, "replay", "--from-export", str(export), "--schema", schemas[-1]))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[-1]))
    check_tampered_exports(stack, export, tmp_path)
    check_as_of_replay(stack, city, schemas)


def field_day(region: str) -> list[dict[str, Any]]:
    """Registries, checklists, turnout, protocols, corroborated reports and triage over six
    stations (several partitions), with facts arriving out of their time order."""
    stations, events = [unique("PS") for _ in range(6)], []
    for n, s in enumerate(stations):
        at = {"station_id": s, "place": {"region": region}}
        stuffed = [stuffing(s, source=f"observer-{k}", occurred_at=f"2021-01-10T1{k}:0{k}:00+06:00")
                   for k in (0, 0, 1)]
        events += [
            envelope("station.moved", {"address": f"Club {n}"}, occurred_at=AT_12, **at),
            envelope("station.registered", {"number": n + 1, "address": f"School {n}",
                                            "region": region, "registered_voters": 1000},
                     occurred_at=AT_11, **at),
            envelope("observer.accreditation_revoked", {"observer_id": f"o-{s}"},
                     occurred_at=AT_13),
            envelope("observer.accredited", {"observer_id": f"o-{s}", "organisation": "ED",
                                             "name": "A", "station_id": s}, occurred_at=AT_11),
            envelope("checklist.submitted", {"checklist_id": "opening", "version": 1, "answers": {
                "observers_admitted": "none", "ballot_box_sealed": n % 2 == 0,
                "voter_list_available": True, "commission_members_present": n}}, **at),
            envelope("turnout.reported", {"hour": 12, "voters": 600}, occurred_at=AT_12, **at),
            envelope("turnout.reported", {"hour": 10, "voters": 100}, occurred_at=AT_11, **at),
            envelope("turnout.reported", {"hour": 12, "voters": 350 + n * 50},
                     occurred_at=AT_13, **at),
            envelope("protocol.reported", {"voters_on_list": 1000, "ballots_issued": 600 + n,
                                           "ballots_cast": 600, "invalid_ballots": n,
                                           "votes": {"A": 600}}, occurred_at=AT_16, **at),
            *stuffed, access_denied(s),
            envelope("report.retracted", {"event_id": stuffed[n % 3]["event_id"]}),
            envelope("triage.claimed", {"event_id": stuffed[2]["event_id"], "operator": "d"}),
            envelope("triage.escalated", {"event_id": stuffed[2]["event_id"], "reason": "r"}),
            envelope("triage.commented", {"event_id": stuffed[2]["event_id"], "note": "n"})]
    return events + [envelope("turnout.announced", {"hour": 12, "percent": 55.5},
                              place={"region": region}),
                     *[detention("Oral", 1, region=region) for _ in range(3)]]


@pytest.mark.slow
def test_replay_equals_live_for_registries_checklists_turnout_and_triage(
        own_stack: Stack, schemas: list[str]) -> None:
    stack, region = own_stack.start(), unique("region")
    events = field_day(region)
    for start in range(0, len(events), 17):  # many small batches, as partners send them
        results = stack.post_batch(events[start:start + 17]).json()["results"]
        assert {r["code"] for r in results} == {202}, results
    assert {r["status"] for r in stack.post_batch(events[:5]).json()["results"]} == {"duplicate"}
    with_evidence(stack)
    wait_until(lambda: caught_up(stack), timeout=120, interval=0.5)
    listed = stack.get(f"/v1/regions/{region}/stations").json()["stations"]
    assert len(listed) == 6 and not any(s["observer_present"] for s in listed)
    assert any(s["distinct_incidents"] < s["reports"] for s in listed)  # corroborated
    assert same_as_before(stack)  # the roll-ups, with turnout alerts and withdrawals
    [placeless] = fetch(f'SELECT count(*) FROM "{stack.name}".events WHERE region IS NULL '
                        "AND type = ANY($1::text[])", list(TARGETING))
    assert placeless[0] == 0  # triage, retractions, evidence: in their report's region
    schemas += [f"replay_{stack.name}", f"replay_{stack.name}_shuffled"]
    ok(saylau(stack, "replay", "--schema", schemas[0]))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[0]))
    ok(saylau(stack, "replay", "--schema", schemas[1], "--order", "shuffle", "--seed", "3",
              "--batch", "7"))
    assert ALL_EQUAL in ok(saylau(stack, "compare", "--replay", schemas[1]))


def with_evidence(stack: Stack) -> None:
    """A report with a file and a file attached to it later (the event_evidence read model)."""
    from tests.e2e.test_evidence import stored
    from tests.evidence_files import minimal_mp4

    files = [stored(stack, minimal_mp4(bytes([n]) * 9), name="f.mp4")["sha256"] for n in (1, 2)]
    report = stuffing(unique("PS"), evidence=[{"sha256": files[0], "caption": "the box"}])
    attached = envelope("evidence.attached", {"event_id": report["event_id"],
                                              "evidence": [{"sha256": files[1]}]})
    assert [stack.post(e).status_code for e in (report, attached)] == [202, 202]


def check_tampered_exports(stack: Stack, export: Path, tmp_path: Path) -> None:
    header, *lines = export.read_bytes().splitlines(keepends=True)
    p, first, second, third = lines_of_one_partition(lines)

    altered = [orjson.loads(line) for line in lines]
    altered[second]["record"]["payload"]["count"] = 999
    (tmp_path / "altered.ndjson").write_bytes(header + b"".join(
        orjson.dumps(line) + b"\n" for line in altered))
    out = ok(saylau(stack, "verify", "--from-export", str(tmp_path / "altered.ndjson")), 1)
    assert f"partition {p} offset {offset(lines[second])}: altered" in out

    (tmp_path / "missing.ndjson").write_bytes(header + b"".join(lines[:second] +
                                                                lines[second + 1:]))
    out = ok(saylau(stack, "verify", "--from-export", str(tmp_path / "missing.ndjson")), 1)
    assert f"partition {p} offset {offset(lines[third])}: missing" in out

    swapped = list(lines)
    swapped[first], swapped[second] = swapped[second], swapped[first]
    (tmp_path / "swapped.ndjson").write_bytes(header + b"".join(swapped))
    out = ok(saylau(stack, "verify", "--from-export", str(tmp_path / "swapped.ndjson")), 1)
    assert f"partition {p} offset {offset(lines[second])}: reordered" in out


def lines_of_one_partition(lines: list[bytes]) -> tuple[int, int, int, int]:
    """A partition and the indexes of three of its consecutive detention-count lines."""
    by_partition: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        parsed = orjson.loads(line)
        if "count" in parsed["record"]["payload"]:
            by_partition.setdefault(parsed["partition"], []).append(i)
    p, found = next((p, ix) for p, ix in sorted(by_partition.items()) if len(ix) >= 3
                    and ix[2] - ix[0] == 2)
    return p, found[0], found[1], found[2]


def offset(line: bytes) -> int:
    return int(orjson.loads(line)["offset"])


def check_as_of_replay(stack: Stack, city: str, schemas: list[str]) -> None:
    schemas.append(f"replay_{stack.name}_at_15")
    out = ok(saylau(stack, "replay", "--schema", schemas[-1], "--until", AT_15))
    assert "occurred after --until" in out
    [row] = fetch(f'SELECT detained_total, released_total FROM "{schemas[-1]}".city_detentions '
                  "WHERE city = $1", city)
    assert (row["detained_total"], row["released_total"]) == (5, 2)


def test_replay_refuses_to_overwrite_live(stack: Stack) -> None:
    done = saylau(stack, "replay", "--schema", stack.name)
    assert done.returncode == 2 and "--force" in done.stderr
    assert saylau(stack, "replay", "--until", "2021-01-10T15:00").returncode == 2
    assert saylau(stack, "compare", "--replay", "replay_does_not_exist").returncode == 2


def test_filtered_and_csv_exports(stack: Stack, tmp_path: Path) -> None:
    region = unique("region")
    mine = [detention(unique(), 3, region=region) for _ in range(3)]
    assert stack.post_batch([*mine, detention(unique(), 4)]).status_code == 200
    ndjson, table = tmp_path / "region.ndjson", tmp_path / "region.csv"
    done = ok(saylau(stack, "export", "--region", region, "-o", str(ndjson)))
    assert done == ""
    assert len(ndjson.read_bytes().splitlines()) == 1 + 3
    out = ok(saylau(stack, "verify", "--from-export", str(ndjson)))
    assert "hash chains NOT checked" in out and "OK" in out
    ok(saylau(stack, "export", "--region", region, "--format", "csv", "-o", str(table)))
    rows = list(csv.DictReader(table.open()))
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in mine)
    assert all(len(r["content_hash"]) == 64 and r["chain_hash"] for r in rows)
    assert orjson.loads(rows[0]["payload"]) == {"count": 3}


def test_detentions_as_of_a_past_moment(stack: Stack) -> None:
    city = unique()
    for event in (detention(city, 5, occurred_at=AT_11), detention(city, 7, occurred_at=AT_16)):
        assert stack.post(event).status_code == 202
    wait_until(lambda: (c := stack.detentions_in(city)) and c["detained_total"] == 12)
    cities = stack.get("/v1/detentions", as_of=AT_15).json()["cities"]
    assert next(c for c in cities if c["city"] == city)["detained_total"] == 5


def test_events_topic_never_deletes(stack: Stack) -> None:
    async def topic_config() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=Settings().kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, f"{stack.name}.events")])
        finally:
            await admin.close()
        [resource] = response.resources
        return {entry[0]: entry[1] for entry in resource[4]}

    config = asyncio.run(topic_config())
    assert config["retention.ms"] == "-1"
    assert config["cleanup.policy"] == "delete"


class Poster(Background):
    """A partner reporting all the time: a batch of station reports and detentions every
    50 ms, each batch about fresh stations and a fresh city, until told to stop. A refused
    batch fails the test when it stops it; an exception (a connection refused, a timeout)
    as soon as the test looks at ``batches``."""

    def __init__(self, stack: Stack) -> None:
        super().__init__()
        self.stack, self.posted, self.failed = stack, 0, []

    @property
    def batches(self) -> int:
        """Batches posted so far (raises what ended the thread, if anything did)."""
        self.check()
        return self.posted

    def step(self) -> None:
        reply = self.stack.post_batch(wave(12))
        if reply.status_code != 200:
            self.failed.append(reply.text)
        self.posted += 1
        time.sleep(0.05)

    def stop(self) -> None:
        super().stop()
        assert not self.failed, self.failed[:3]


@pytest.mark.slow
def test_the_two_command_audit_passes_under_live_traffic_and_names_an_altered_row(
        own_stack: Stack, schemas: list[str]) -> None:
    stack, station, before = own_stack.start(), unique("PS"), audit_schemas()
    events, _ = scenario(unique())
    assert stack.post_batch([*events, access_denied(station)]).status_code == 200
    poster = Poster(stack)
    poster.start()
    try:
        wait_until(lambda: poster.batches >= 5, 60)
        schemas.append("replay_x_" + stack.name)
        replayed = ok(saylau(stack, "replay", "--schema", schemas[0]))
        assert "log position reached" in replayed
        at_replay = poster.batches
        wait_until(lambda: poster.batches >= at_replay + 5, 60)  # live moves past the replay
        out = ok(saylau(stack, "compare", "--replay", schemas[0]))
        assert ALL_EQUAL in out and "compared at log position" in out
        assert " 0 records)" not in out, out  # the replay was brought up to the live position

        summary = ok(saylau(stack, "audit"))
        assert "RESULT: PASS" in summary and "log verified" in summary
        assert summary.count(" equal\n") == AUDITED and "summary sha256: " in summary
        assert f"topic:         {stack.name}.events" in summary

        fetch(f'UPDATE "{stack.name}".stations SET total = total + 1000 WHERE station_id = $1',
              station)
        out = ok(saylau(stack, "compare", "--replay", schemas[0]), 1)
        different = re.search(r"tables equal; DIFFERENT: (.*)$", out, re.MULTILINE)
        assert different, out
        named = different.group(1).split(", ")
        # the altered table first; the region roll-up summing it differs too once live
        # traffic makes the projector recount that region from the altered row
        assert named[0] == "stations" and set(named) <= {"stations", "region_rollups"}, out
        assert f"stations: only in {stack.name}: {{'station_id': '{station}'" in out
        assert "RESULT: FAIL" in ok(saylau(stack, "audit"), 1)
    finally:
        poster.stop()
    assert audit_schemas() <= before  # saylau audit drops its replay schema


def audit_schemas() -> set[str]:
    return {r["nspname"] for r in fetch("SELECT nspname FROM pg_namespace "
                                        "WHERE nspname LIKE 'replay_audit_%'")}


@pytest.mark.slow
def test_checkpoints_prove_the_log_and_catch_a_deleted_tail_or_altered_record(
        own_stack: Stack, tmp_path: Path) -> None:
    stack, keys = own_stack.start(), {"SAYLAU_CHECKPOINT_KEY_FILE": str(tmp_path / "op.pem")}
    public = ok(saylau(stack, "checkpoint", "--new-key", **keys)).splitlines()[1]
    assert stack.post_batch(wave(60)).status_code == 200
    checkpoints = tmp_path / "checkpoints.jsonl"
    ok(saylau(stack, "checkpoint", "-o", str(checkpoints), **keys))
    assert stack.post_batch(wave(30)).status_code == 200
    ok(saylau(stack, "checkpoint", "-o", str(checkpoints), **keys))
    first = orjson.loads(checkpoints.read_bytes().splitlines()[0])
    assert sorted(p["partition"] for p in first["partitions"]) == list(range(stack.partitions))

    out = ok(saylau(stack, "verify", "--checkpoints", str(checkpoints), "--public-key", public))
    assert "2/2 checkpoints proven" in out and "OK" in out
    wait_until(lambda: len(fetch(f'SELECT 1 FROM "{stack.name}".events '
                                 "WHERE type = 'chain.checkpointed'")) == 2)
    other = ok(saylau(stack, "checkpoint", "--public-key", **keys)).split()[0]
    assert other == public
    published_by_the_api(stack, checkpoints, public, keys)

    export = tmp_path / "log.ndjson"
    ok(saylau(stack, "export", "-o", str(export)))
    p, head = next((p["partition"], p["head"]) for p in first["partitions"]
                   if p["head"] and p["head"]["offset"] >= 1)
    cut = without_tail(export, p, head["offset"])
    out = ok(saylau(stack, "verify", "--from-export", str(cut), "--checkpoints",
                    str(checkpoints)), 1)
    assert f"NOT PROVEN: partition {p} offset {head['offset']}: missing" in out

    altered = tmp_path / "altered.ndjson"
    header, *lines = export.read_bytes().splitlines(keepends=True)
    parsed = [orjson.loads(line) for line in lines]
    victim = next(line for line in parsed if line["partition"] == p and line["offset"] == 0)
    victim["record"]["occurred_at"] = "2021-01-10T09:59:00+06:00"
    altered.write_bytes(header + b"".join(orjson.dumps(line) + b"\n" for line in parsed))
    out = ok(saylau(stack, "verify", "--from-export", str(altered), "--checkpoints",
                    str(checkpoints)), 1)
    assert f"NOT PROVEN: partition {p} offset 0: altered" in out


def published_by_the_api(stack: Stack, checkpoints: Path, public: str,
                         keys: dict[str, str]) -> None:
    """GET /v1/audit/checkpoints serves the appended checkpoints (audit scope), newest first;
    a projector holding the key publishes more on its own; /v1/audit/public-key names it."""
    written = [orjson.loads(line) for line in checkpoints.read_bytes().splitlines()]
    assert stack.get("/v1/audit/checkpoints").status_code == 403  # a read-only key
    served = audit_get(stack, "/v1/audit/checkpoints").json()["checkpoints"]
    assert [c["signature"] for c in served] == [c["signature"] for c in reversed(written)]
    stack.kill("projector", signal.SIGTERM)
    stack.kill("api", signal.SIGTERM)
    stack.env.update(keys, CHECKPOINT_MINUTES="0.02")
    stack.start_projector()
    stack.start_api()
    wait_until(lambda: len(audit_get(stack, "/v1/audit/checkpoints").json()["checkpoints"])
               >= 4, timeout=90, interval=0.5)
    served = audit_get(stack, "/v1/audit/checkpoints").json()["checkpoints"]
    assert all(signature_problem(c, public) is None for c in served)
    assert served[0]["taken_at"] > written[-1]["taken_at"]
    key = httpx.get(f"{stack.api_url}/v1/audit/public-key", timeout=10).json()
    assert key == {"algorithm": "Ed25519", "public_key": public, "key_id": key_id(public)}


def audit_get(stack: Stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.api_url}{path}", timeout=30,
                     headers={"Authorization": f"Bearer {stack.writer_key}"})


def without_tail(export: Path, partition: int, first_gone: int) -> Path:
    """The export with a partition's records from ``first_gone`` on deleted, and its header
    made to agree (as a careful forger would): the chain alone cannot tell."""
    header, *lines = export.read_bytes().splitlines(keepends=True)
    head = orjson.loads(header)
    head["saylau_export"]["partitions"][str(partition)][1] = first_gone
    kept = [line for line in lines if not (orjson.loads(line)["partition"] == partition
                                           and orjson.loads(line)["offset"] >= first_gone)]
    cut = export.with_name("cut.ndjson")
    cut.write_bytes(orjson.dumps(head) + b"\n" + b"".join(kept))
    return cut


def test_a_replayed_dead_letter_is_rechained_and_the_log_still_verifies(
        own_stack: Stack) -> None:
    stack, city = own_stack.start(), unique()
    poison = {**detention(city, 1), "type": "detention.unknown_kind"}
    poison.update(partner="p", received_at=AT_11, content_hash=content_hash(poison))
    ChainHead().seal(poison)
    asyncio.run(produce(stack, partition_for(f"Almaty/{city}", stack.partitions),
                        canonical(poison)))
    admin = {"Authorization": f"Bearer {stack.writer_key}"}
    dead = wait_until(lambda: [d for d in httpx.get(
        f"{stack.api_url}/v1/admin/dead-letters", headers=admin, timeout=10
    ).json()["dead_letters"] if city in d["raw"]], 60)
    reply = httpx.post(f"{stack.api_url}/v1/admin/dead-letters/replay", headers=admin,
                       timeout=30, json={"dead_letters": [{"partition": dead[0]["partition"],
                                                           "offset": dead[0]["offset"]}]})
    assert reply.status_code == 200 and len(reply.json()["replayed"]) == 1, reply.text
    wait_until(lambda: len([d for d in httpx.get(
        f"{stack.api_url}/v1/admin/dead-letters", headers=admin, timeout=10
    ).json()["dead_letters"] if city in d["raw"]]) == 2, 60)
    assert "OK" in ok(saylau(stack, "verify"))  # a repeat of the poison's link before the fix


async def produce(stack: Stack, partition: int, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=Settings().kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{stack.name}.events", value, partition=partition)
    finally:
        await producer.stop()
