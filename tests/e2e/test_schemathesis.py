"""Both OpenAPI documents fuzzed by schemathesis with every check: they say what the services do.

The schemathesis CLI runs its examples, coverage, fuzzing and stateful phases with every
check (``--checks all``: no 5xx, every status, content type, header and body as documented,
invalid requests refused, valid ones accepted, 405s naming the path's methods, auth enforced,
...) against a private stack (ingest, projector, api; rate limit off) holding data: detentions
in a city, a registered station with a report and its photo, a triage claim, a webhook
subscription, and a quick-count sample with reports for the election the api document gives
as its example (so the quick-count routes answer with data). Each document gets
SCHEMATHESIS_SECONDS (default 150, so `make test` stays near 25 minutes; outside checks run 240) from the seed SCHEMATHESIS_SEED
(fixed by default; ``random`` draws one). ``schemathesis.toml`` and
``schemathesis_hooks.py`` hold the few exceptions no document can express, each narrowed by a
check. A failure prints schemathesis's report, with the seed and a curl command that
reproduces each finding.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.evidence_files import jpeg_with_gps
from tests.factories import access_denied, detention, envelope, unique
from tests.stack import Stack, wait_until

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "150"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20210110")
"""The same cases on every run, so CI's verdict does not depend on the draw; set another
seed (or ``random``) to explore."""
PHASES = "examples,coverage,fuzzing,stateful"
WEBHOOK_HOST = "hooks.example.org"
"""The host of the documented webhook example, allowed so that example can subscribe."""
ELECTION = "kz-2021-01-10"
"""The election ``GET /v1/quickcount`` documents as its example: the seed draws its sample."""


def seed_quick_count(stack: Stack) -> None:
    """Six registered stations, a sample of four drawn through the draw route, and the 20:00
    count and protocol of each sampled station."""
    region = unique("QC")
    stations = [envelope("station.registered", {"number": 9300 + i, "address": "School",
                                                "region": region, "registered_voters": 1000},
                         station_id=f"{region}-{i}", occurred_at="2021-01-09T10:00:00+06:00")
                for i in range(6)]
    assert stack.post_batch(stations).status_code == 200
    # a region no election file lists is unknown (404) until its stations are projected
    wait_until(lambda: len(stack.get(f"/v1/regions/{region}/stations").json()
                           .get("stations", [])) == 6)
    drawn = httpx.post(f"{stack.ingest_url}/v1/quickcount/samples", timeout=30,
                       json={"election_id": ELECTION, "size": 4, "seed": 20210110},
                       headers={"Authorization": f"Bearer {stack.writer_key}"})
    assert drawn.status_code == 201, drawn.text
    at = {"place": {"region": region}, "occurred_at": "2021-01-10T20:05:00+06:00"}
    reports = [e for n, s in enumerate(drawn.json()["stations"]) for e in (
        envelope("turnout.reported", {"hour": 20, "voters": 500 + 30 * n}, station_id=s, **at),
        envelope("protocol.reported", {"voters_on_list": 1000, "ballots_issued": 500 + 30 * n,
                                       "ballots_cast": 500 + 30 * n, "invalid_ballots": 0,
                                       "votes": {"A": 300, "B": 200 + 30 * n}},
                 station_id=s, **at))]
    assert {r["code"] for r in stack.post_batch(reports).json()["results"]} == {202}
    wait_until(lambda: (r := stack.get("/v1/quickcount", election_id=ELECTION)).status_code
               == 200 and r.json()["sample"]["protocols"] == 4, 60)


@pytest.fixture(scope="module")
def target() -> Iterator[Stack]:
    stack = Stack(extra_env={"RATE_LIMIT_PER_SECOND": "0", "WEBHOOK_ALLOW_HOSTS": WEBHOOK_HOST})
    try:
        stack.start()
        seed(stack)
        seed_quick_count(stack)
        yield stack
    finally:
        stack.stop()


def seed(stack: Stack) -> None:
    """Data for the api's reads: detentions, a registered station with a report about it that
    carries a photo, a triage claim on a report, a webhook subscription."""
    city, station = unique(), unique("PS")
    auth = {"Authorization": f"Bearer {stack.writer_key}"}
    photo = httpx.post(f"{stack.ingest_url}/v1/evidence", headers=auth, timeout=30,
                       files={"file": ("photo.jpg", jpeg_with_gps(), "image/jpeg")})
    assert photo.status_code == 201, photo.text
    held = detention(city, 3)
    registered = envelope("station.registered", {
        "number": 660, "address": "School No. 12", "region": "North Kazakhstan",
        "registered_voters": 2140}, station_id=station)
    denied = access_denied(station, evidence=[{"sha256": photo.json()["sha256"]}])
    claim = envelope("triage.claimed", {"event_id": held["event_id"], "operator": "dana"})
    for event in (held, registered, denied, claim):
        assert stack.post(event).status_code == 202
    subscribed = httpx.post(f"{stack.api_url}/v1/webhooks", headers=auth, timeout=30, json={
        "url": f"https://{WEBHOOK_HOST}/saylau", "kinds": ["breach"]})
    assert subscribed.status_code == 201, subscribed.text
    wait_until(lambda: stack.detentions_in(city), 60)
    wait_until(lambda: stack.get(f"/v1/events/{denied['event_id']}").status_code == 200, 60)
    wait_until(lambda: any(r["event_id"] == held["event_id"] and r["triage"]["claimed_by"]
                           for r in stack.get("/v1/triage").json()["reports"]), 60)


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_openapi_document_survives_schemathesis(target: Stack, service: str,
                                                tmp_path: Path) -> None:
    base = target.ingest_url if service == "ingest" else target.api_url
    command = [str(Path(sys.executable).with_name("schemathesis")),
               "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
               "run", f"{base}/openapi.json",
               "--phases", PHASES, "--checks", "all",
               "--max-time", str(SECONDS), "--workers", "1", "--request-timeout", "10",
               "--generation-database", "none", "--suppress-health-check", "all",
               *([] if SEED == "random" else ["--seed", SEED]),
               "-H", f"Authorization: Bearer {target.writer_key}",
               "--report", "junit", "--report-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False,
                          timeout=SECONDS + 300,
                          env={**os.environ, "SCHEMATHESIS_HOOKS":
                               str(HERE / "schemathesis_hooks.py")})
    report = done.stdout[-20000:] + done.stderr[-5000:]
    assert done.returncode == 0, report
    assert all(phase in done.stdout for phase in ("Examples", "Coverage", "Fuzzing",
                                                  "Stateful")), report
    assert " generated, " in done.stdout and " passed" in done.stdout, report
