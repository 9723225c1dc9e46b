"""The route matrix (issue 31 item 5): every operation of ingest's and the api's OpenAPI
documents is run as a national principal and as coordinators of two regions over data posted
in both, or is listed as national-only (a coordinator is refused, 403), as covered by another
file's tests, or as outside region binding, each with why. A route in none of these fails.

Coordinators here are keys bound to one region (``ingest.api_keys.regions``) with the
``audit`` scope besides ``read``, so that names are opened for them as for a coordinator's
account: a detained person named in the other region must not reach them either.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.evidence_files import jpeg_with_gps
from tests.factories import detention, envelope, stuffing, unique
from tests.stack import Stack, wait_until

ELECTION = "kz-2021-01-10"
A, B = "Turkistan", "Mangystau"
SPELLED = {A: "Turkestan", B: "Mangistau"}
"""How the reports (and the coordinators' path parameters) spell the regions: an alias the
election file maps to the canonical name."""

NATIONAL_ONLY = {
    ("api", "GET", "/v1/quickcount"): "the quick count's estimates are national statistics",
    ("api", "GET", "/v1/admin/dead-letters"): "the log's administration is the whole log's",
    ("api", "POST", "/v1/admin/dead-letters/replay"): "the log's administration",
    ("api", "GET", "/v1/audit/checkpoints"): "the log's signed chain heads: the whole log's",
    ("ingest", "POST", "/v1/quickcount/samples"): "the sample is drawn over every region",
}
COVERED_ELSEWHERE = {
    ("ingest", "POST", "/v1/events"): "tests/e2e/test_regional_flow.py (feat/flow): triage on "
                                      "another region's report answers as an unknown report",
    ("ingest", "POST", "/v1/events:batch"): "tests/e2e/test_regional_flow.py (feat/flow): the "
                                            "same intake as POST /v1/events, per item",
    ("api", "GET", "/v1/live"): "tests/e2e/test_regional_flow.py (feat/flow): a coordinator's "
                                "stream during traffic in two regions, and its resync",
    ("ingest", "POST", "/v1/broadcasts"): "tests/e2e/test_broadcasts.py: a coordinator bound to "
                                          "one region cannot address another's regions or "
                                          "stations (403 naming the field)",
}
OUTSIDE = {
    ("api", "GET", "/healthz"): "liveness: no data",
    ("api", "GET", "/readyz"): "readiness: no data",
    ("api", "GET", "/metrics"): "process metrics: counters, no report data",
    ("ingest", "GET", "/healthz"): "liveness: no data",
    ("ingest", "GET", "/readyz"): "readiness: no data",
    ("ingest", "GET", "/metrics"): "process metrics: counters, no report data",
    ("api", "GET", "/v1/audit/public-key"): "the operator's public key: public by design",
    ("api", "POST", "/v1/session"): "sign-in: answers who signed in, no report data",
    ("api", "GET", "/v1/session"): "who is signed in: the caller's own key or account",
    ("api", "DELETE", "/v1/session"): "sign-out",
    ("ingest", "POST", "/v1/observer/session"): "an observer's sign-in (her PIN, her grant)",
    ("ingest", "GET", "/v1/observer/me"): "an observer's own grant: her station, no one else's",
    ("ingest", "POST", "/v1/evidence"): "an upload belongs to no report until one names it; "
                                        "then GET /v1/evidence/{sha256} (in the matrix) "
                                        "serves it to that report's region only",
    ("ingest", "POST", "/v1/channels/sms"): "an SMS gateway's machine key posting reports: no reads",
    ("ingest", "POST", "/v1/channels/telegram"): "the Telegram bot's webhook posting reports: no reads",
    ("ingest", "POST", "/v1/channels/import"): "a bulk import of reports by an ingest key: no reads",
}
WEBHOOK_ROUTES = {("api", "POST", "/v1/webhooks"), ("api", "GET", "/v1/webhooks"),
                  ("api", "GET", "/v1/webhooks/{webhook_id}/deliveries"),
                  ("api", "DELETE", "/v1/webhooks/{webhook_id}")}
"""Run below by ``test_webhooks_of_a_coordinator_are_hers_alone``: a subscription is a
partner's, and another's id answers as an unknown one."""
COUNTS_ONLY = {"/v1/breaches/summary": lambda body: sum(r["breaches"] for r in body["rules"]),
               "/v1/timeline": lambda body: sum(b["reports"] for b in body["buckets"])}
"""Answers that hold counts and no names: the national one counts more than a region's."""
QUERY = {"/v1/coverage": {"election_id": ELECTION}, "/v1/quickcount": {"election_id": ELECTION},
         "/v1/map/regions": {"election_id": ELECTION}, "/v1/map/stations": {"election_id": ELECTION}}
BODY = {"/v1/admin/dead-letters/replay": {"all": True},
        "/v1/quickcount/samples": {"election_id": ELECTION, "size": 1, "seed": 7}}
"""What a national-only write is sent: valid, so that only the reach can refuse it."""
VARIANTS = {"/v1/export": [{"format": "ndjson"}, {"format": "csv"}]}


@dataclass
class Region:
    """What one region's reports hold, and the coordinator key bound to it."""

    name: str
    key: str = ""
    station: str = field(default_factory=lambda: unique("PS"))
    number: int = field(default_factory=lambda: 40000 + uuid.uuid4().int % 9999)
    message: str = field(default_factory=lambda: unique("message"))
    """A broadcast to this region's observers (its text, and its id once sent)."""
    city: str = field(default_factory=lambda: unique("town"))
    person: str = field(default_factory=lambda: f"Person {uuid.uuid4().hex[:10]}")
    report: str = ""
    observed: str = ""
    """A report naming only its station, as the observer app sends it."""
    breach: str = ""
    files: tuple[str, ...] = ()

    @property
    def markers(self) -> list[str]:
        """Bytes that belong to this region's data alone."""
        return [self.name, self.station, str(self.number), self.city, self.person,
                self.report, self.observed, self.breach, self.message, *self.files]

    def path_values(self) -> dict[str, str]:
        return {"station_id": self.station, "event_id": self.report, "breach_id": self.breach,
                "region": SPELLED[self.name], "sha256": self.files[0]}


UNKNOWN = {"station_id": "PS-nowhere", "event_id": "0b7e6a1c-0000-4000-8000-000000000000",
           "breach_id": "0b7e6a1c-0000-4000-8000-000000000001", "region": "Atlantis",
           "sha256": "0" * 64}


@pytest.fixture(scope="module")
def matrix() -> Iterator[tuple[Stack, Region, Region]]:
    stack = Stack(extra_env={"WEBHOOK_ALLOW_HOSTS": "127.0.0.1/32"}).start()
    regions = Region(A), Region(B)
    try:
        bind_keys(stack, regions)
        for region in regions:
            post_region(stack, region)
        wait_until(lambda: all(projected(stack, r) for r in regions), 60)
        yield stack, *regions
    finally:
        stack.stop()


def bind_keys(stack: Stack, regions: tuple[Region, ...]) -> None:
    """A coordinator's key per region, and an admin key bound to region A."""
    for r in regions:
        r.key = stack.add_key(f"coordinator-{r.name.lower()}", ["read", "triage", "audit"],
                              [r.name])
    stack.regional_admin = stack.add_key("regional-admin",
                                         ["ingest", "read", "audit", "admin", "triage"], [A])
    stack.broadcaster = stack.add_key("centre-broadcaster", ["read", "broadcast"], None)


def post_region(stack: Stack, region: Region) -> None:
    """A registered station, a ballot-stuffing report with a photo (a breach, a triage
    entry), a detention naming a person and the announced turnout, spelled as ``SPELLED``."""
    photo = httpx.post(f"{stack.ingest_url}/v1/evidence", timeout=30, files={
        "file": ("p.jpg", jpeg_with_gps(region.city.encode()), "image/jpeg")},
        headers={"Authorization": f"Bearer {stack.writer_key}"}).json()
    region.files = (photo["sha256"], photo["derivative_sha256"])
    place = {"region": SPELLED[region.name], "city": region.city}
    report = stuffing(region.station, place=place, evidence=[{"sha256": photo["sha256"]}])
    detained = detention(region.city, 2, region=SPELLED[region.name], station_id=region.station)
    detained["payload"]["persons"] = [region.person]
    region.report = report["event_id"]
    observed = stuffing(region.station)
    del observed["place"]
    region.observed = observed["event_id"]
    events = [
        envelope("station.registered", {"number": region.number, "address": region.city,
                                         "region": SPELLED[region.name],
                                         "registered_voters": 900,
                                         "lat": 43.3 if region.name == A else 43.65,
                                         "lon": 68.25 if region.name == A else 51.2},
                 station_id=region.station, place=place, election_id=ELECTION),
        report, detained, observed,
        envelope("turnout.announced", {"hour": 10, "percent": 21.5}, place=place)]
    results = stack.post_batch(events).json()["results"]
    assert [r["code"] for r in results] == [202] * len(events), results
    sent = httpx.post(f"{stack.ingest_url}/v1/broadcasts", timeout=30, json={
        "text": {"en": region.message}, "regions": [SPELLED[region.name]]},
        headers={"Authorization": f"Bearer {stack.broadcaster}"})
    assert sent.status_code == 202, sent.text
    region.message = sent.json()["event_id"]  # the text is withheld from readers of the list


def projected(stack: Stack, region: Region) -> bool:
    breaches = stack.get("/v1/breaches", region=region.name).json()["breaches"]
    region.breach = breaches[0]["breach_id"] if breaches else ""
    sent = stack.get("/v1/broadcasts").json()["broadcasts"]
    return bool(region.breach) and all(stack.get(f"/v1/events/{e}").status_code == 200
                                       for e in (region.report, region.observed)) and \
        region.message in {b["id"] for b in sent}


def operations() -> Iterator[tuple[str, str, str]]:
    from services.api.app import create_app as api
    from services.ingest.app import create_app as ingest
    for service, app in (("api", api()), ("ingest", ingest())):
        for path, methods in app.openapi()["paths"].items():
            for method in methods:
                yield service, method.upper(), path


def run(stack: Stack, path: str, key: str, method: str = "GET",
        **params: Any) -> httpx.Response:
    base = stack.ingest_url if path == "/v1/quickcount/samples" else stack.api_url
    return httpx.request(method, f"{base}{path}", params=params or None, timeout=30,
                         headers={"Authorization": f"Bearer {key}"}, json=BODY.get(path))


def filled(path: str, values: dict[str, str]) -> str:
    names = re.findall(r"{(\w+)}", path)
    missing = [n for n in names if n not in values]
    assert not missing, f"{path}: the matrix cannot fill {missing}: give it data of each region"
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def comparable(answer: httpx.Response, asked: str, unknown: str) -> tuple[int, Any]:
    """An answer as it would read had ``unknown`` been asked instead of ``asked``."""
    text = answer.text.replace(asked, unknown)
    try:
        body = json.loads(text)
    except ValueError:
        return answer.status_code, text
    if isinstance(body, dict):
        body.pop("request_id", None)
    return answer.status_code, body


def test_every_route_is_in_the_matrix_or_listed() -> None:
    listed = {*NATIONAL_ONLY, *COVERED_ELSEWHERE, *OUTSIDE, *WEBHOOK_ROUTES}
    unlisted = [op for op in operations() if op not in listed
                and not (op[1] == "GET" and op[0] == "api")]
    assert not unlisted, f"routes in no list of the region matrix: {unlisted}"
    assert not [op for op in listed if op not in set(operations())], "a listed route is gone"


def matrix_gets() -> list[str]:
    listed = {*NATIONAL_ONLY, *COVERED_ELSEWHERE, *OUTSIDE, *WEBHOOK_ROUTES}
    return sorted({p for s, m, p in operations() if (s, m, p) not in listed
                   and s == "api" and m == "GET"})


@pytest.mark.parametrize("path", matrix_gets())
def test_a_coordinator_reads_her_regions_alone(matrix: tuple[Stack, Region, Region],
                                               path: str) -> None:
    stack, a, b = matrix
    for mine, other in ((a, b), (b, a)):
        for query in VARIANTS.get(path, [QUERY.get(path, {})]):
            national = run(stack, filled(path, other.path_values()), stack.writer_key, **query)
            assert national.status_code == 200, (path, national.text)
            answer = run(stack, filled(path, mine.path_values()), mine.key, **query)
            assert answer.status_code == 200, (path, answer.text)
            leaked = [m for m in other.markers if m in answer.text]
            assert not leaked, f"{path} as {mine.name}'s coordinator holds {other.name}'s {leaked}"
            if path in COUNTS_ONLY:
                count = COUNTS_ONLY[path]
                assert count(national.json()) > count(answer.json()), (path, national.text)
            elif national.headers["content-type"].startswith(("application/", "text/")):
                assert any(m in national.text for m in other.markers), (path, national.text)
            for name in re.findall(r"{(\w+)}", path):
                values = {**mine.path_values(), name: other.path_values()[name]}
                unknown = {**mine.path_values(), name: UNKNOWN[name]}
                theirs = run(stack, filled(path, values), mine.key, **query)
                nowhere = run(stack, filled(path, unknown), mine.key, **query)
                assert comparable(theirs, values[name], UNKNOWN[name]) == \
                    comparable(nowhere, UNKNOWN[name], UNKNOWN[name]), (path, theirs.text)


def test_a_report_naming_only_its_station_is_in_the_stations_region(
        matrix: tuple[Stack, Region, Region]) -> None:
    stack, a, b = matrix
    assert run(stack, f"/v1/events/{a.observed}", a.key).status_code == 200
    assert run(stack, f"/v1/events/{a.observed}", b.key).status_code == 404
    queue = run(stack, "/v1/triage", a.key).json()["reports"]
    assert {a.report, a.observed} <= {r["event_id"] for r in queue}
    assert a.observed in run(stack, "/v1/export", a.key).text


def test_the_derivative_of_another_regions_photo_is_not_found(
        matrix: tuple[Stack, Region, Region]) -> None:
    stack, a, b = matrix
    assert run(stack, f"/v1/evidence/{a.files[1]}", a.key).status_code == 200
    theirs = run(stack, f"/v1/evidence/{b.files[1]}", a.key)
    nowhere = run(stack, f"/v1/evidence/{UNKNOWN['sha256']}", a.key)
    assert comparable(theirs, b.files[1], UNKNOWN["sha256"]) == \
        comparable(nowhere, UNKNOWN["sha256"], UNKNOWN["sha256"])
    assert run(stack, f"/v1/evidence/{b.files[1]}", stack.writer_key).status_code == 200


@pytest.mark.parametrize("route", sorted(NATIONAL_ONLY))
def test_national_only_routes_refuse_a_regional_principal(
        matrix: tuple[Stack, Region, Region], route: tuple[str, str, str]) -> None:
    stack, a, _ = matrix
    _, method, path = route
    query = QUERY.get(path, {})
    refused = run(stack, path, stack.regional_admin, method, **query)
    assert refused.status_code == 403, refused.text
    assert "national-only" in refused.json()["detail"] and A in refused.json()["detail"]
    assert run(stack, path, a.key, method, **query).status_code == 403
    assert run(stack, path, stack.writer_key, method, **query).status_code != 403


def test_a_region_path_takes_any_alias_and_an_unknown_region_is_not_found(
        matrix: tuple[Stack, Region, Region]) -> None:
    stack, a, _ = matrix
    for spelled in ("Turkestan", "Turkistan", "turkistan region"):
        answer = stack.get(f"/v1/regions/{spelled}/stations")
        assert answer.status_code == 200 and answer.json()["region"] == A, answer.text
        assert [s["station_id"] for s in answer.json()["stations"]] == [a.station]
    assert stack.get("/v1/regions/Zhambyl/turnout").json()["hours"] == []  # listed, no data
    assert stack.get("/v1/regions/Atlantis/turnout").status_code == 404


def test_webhooks_of_a_coordinator_are_hers_alone(matrix: tuple[Stack, Region, Region]) -> None:
    stack, a, b = matrix
    hooks = {}
    for region in (a, b):
        created = run_json(stack, "POST", "/v1/webhooks", region.key, {
            "url": f"http://127.0.0.1:9/{region.city}", "kinds": ["breach"]})
        assert created.status_code == 201, created.text
        hooks[region.name] = created.json()["id"]
    listed = run(stack, "/v1/webhooks", a.key)
    assert a.city in listed.text and b.city not in listed.text
    assert run(stack, f"/v1/webhooks/{hooks[A]}/deliveries", a.key).status_code == 200
    for method, path in (("GET", "/v1/webhooks/{}/deliveries"), ("DELETE", "/v1/webhooks/{}")):
        theirs = run(stack, path.format(hooks[B]), a.key, method)
        nowhere = run(stack, path.format(UNKNOWN["event_id"]), a.key, method)
        assert comparable(theirs, hooks[B], UNKNOWN["event_id"]) == \
            comparable(nowhere, UNKNOWN["event_id"], UNKNOWN["event_id"])
    assert run(stack, f"/v1/webhooks/{hooks[B]}", b.key, "DELETE").status_code == 204


def test_the_export_holds_her_regions_with_names_as_the_role_allows(
        matrix: tuple[Stack, Region, Region]) -> None:
    stack, a, b = matrix
    lines = run(stack, "/v1/export", a.key, format="ndjson")
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line)["record"] for line in lines.text.splitlines()]
    assert {r["event_id"] for r in records} >= {a.report}
    assert all((r.get("place") or {}).get("region") in (SPELLED[A], A)
               or r.get("station_id") == a.station for r in records)
    assert a.message in {r["event_id"] for r in records}  # her region's broadcast
    assert a.person in lines.text  # her role reads names in her region's reports
    table = run(stack, "/v1/export", a.key, format="csv")
    assert table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0].endswith(",status") and a.report in table.text
    national = run(stack, "/v1/export", stack.reader_key, format="csv")
    assert b.report in national.text and b.person not in national.text  # names: [redacted]
    refused = run(stack, "/v1/export", a.key, format="xml")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == [
        "query", "format"]


def run_json(stack: Stack, method: str, path: str, key: str,
             body: dict[str, Any]) -> httpx.Response:
    return httpx.request(method, f"{stack.api_url}{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {key}"})
