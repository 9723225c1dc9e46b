"""The observer app in a real browser (Debian's Chromium through Playwright) against the real
services: an accredited observer signs in with her PIN, saves reports with no network, and
each reaches the log exactly once, however the network failed on the way.

A phone is a persistent browser profile: closing its context and opening a new one on the same
directory is closing and reopening the browser.
"""
from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import (
    BrowserContext,
    Locator,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)

from tests.factories import envelope, unique
from tests.stack import ROOT, Stack, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
SAYLAU = Path(sys.executable).parent / "saylau"
ARTIFACTS = ROOT / "test-artifacts"
ELECTION = "kz-2021-01-10"
LATER = "2021-01-10T12:00:00+06:00"
"""After the factories' time of her accreditation (the latest status wins, by occurred_at)."""
REGION = "North Kazakhstan"
SENT_WITHIN_MS = 30_000
pytestmark = pytest.mark.integration


@dataclass
class Observer:
    observer_id: str
    pin: str
    station_id: str
    city: str


class Phone:
    """One browser profile, opened and closed like a phone's browser."""

    def __init__(self, playwright: Playwright, profile: Path, base_url: str) -> None:
        self.playwright, self.profile, self.base_url = playwright, profile, base_url
        self.context: BrowserContext | None = None
        self.errors: list[str] = []

    def open(self, offline: bool = False) -> Page:
        """Start the browser on the profile and open the app."""
        self.context = self.playwright.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, offline=offline,
            accept_downloads=True, viewport={"width": 420, "height": 900})
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: "Content Security Policy" in msg.text
                and self.errors.append(msg.text))
        page.goto(f"{self.base_url}/observe/")
        return page

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None

    @property
    def online(self) -> BrowserContext:
        assert self.context is not None
        return self.context


class Network:
    """A TCP relay in front of ingest that a test cuts and restores: no connection at all gets
    through while it is cut. Playwright's offline emulation reaches a service worker only once
    Playwright is attached to it, and a browser that starts with a background sync pending runs
    the worker's requests before that; a phone reopened without a network needs this."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open_sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.up = False
        for sock in list(self.open_sockets):
            self._close(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                self._close(client)
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.open_sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _close(self, sock: socket.socket) -> None:
        self.open_sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), "needs Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        yield p


@pytest.fixture
def brief_tokens() -> Iterator[Stack]:
    """A stack of its own whose observer tokens last 10 seconds."""
    stack = Stack(extra_env={"OBSERVER_TOKEN_HOURS": str(10 / 3600)})
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture
def network(stack: Stack) -> Iterator[Network]:
    relay = Network(stack.ingest_port)
    yield relay
    relay.close()


@pytest.fixture
def phone(playwright: Playwright, network: Network, tmp_path: Path) -> Iterator[Phone]:
    opened = Phone(playwright, tmp_path / "profile", f"http://127.0.0.1:{network.port}")
    yield opened
    opened.close()
    assert not opened.errors, f"JavaScript errors or CSP violations: {opened.errors}"


# ---- an accredited observer --------------------------------------------------------------------

def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env=stack.env,
                          capture_output=True, text=True, timeout=120)


def accredit(stack: Stack) -> Observer:
    """A registered station, an observer accredited to it for the election, and her PIN."""
    observer_id, station_id, city = unique("ED"), unique("PS"), unique("Petropavlovsk")
    registered = envelope("station.registered", {
        "number": 660, "address": "School No. 12, 45 Abai St", "region": REGION, "city": city,
        "registered_voters": 2140}, station_id=station_id)
    accredited = envelope("observer.accredited", {
        "observer_id": observer_id, "organisation": "El Dauysy", "name": "Aigerim Nurlanovna",
        "station_id": station_id}, election_id=ELECTION)
    for event in (registered, accredited):
        assert stack.post(event).status_code == 202
    issued = wait_until(lambda: (done := saylau(stack, "observers", "issue-pin", observer_id))
                        .returncode == 0 and done, 60, 0.5)
    return Observer(observer_id, issued.stdout.strip().splitlines()[-1], station_id, city)


def sign_in(page: Page, who: Observer, pin: str | None = None) -> None:
    page.get_by_label("Observer ID").fill(who.observer_id)
    page.get_by_label("PIN").fill(pin or who.pin)
    with page.expect_response("**/v1/observer/session"):
        page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page, who: Observer) -> None:
    sign_in(page, who)
    expect(page.get_by_test_id("stations")).to_contain_text(who.station_id)
    expect(page.get_by_test_id("network")).to_have_attribute("data-offline-ready", "true",
                                                              timeout=15_000)


# ---- what she does -----------------------------------------------------------------------------

def file_checklist(page: Page) -> None:
    page.get_by_role("button", name="Checklist").click()
    page.get_by_label("Which checklist").select_option("opening")
    page.get_by_role("group", name="Were all observers admitted").get_by_label("some").check()
    page.get_by_role("group", name="Was every ballot box shown empty").get_by_label("No").check()
    page.get_by_role("group", name="Was the voter list available").get_by_label("Yes").check()
    page.get_by_label("How many commission members").fill("7")
    page.get_by_role("button", name="Save checklist").click()


def file_detention(page: Page, count: int, photo: Path | None = None) -> None:
    page.get_by_role("button", name="Incident or detention").click()
    page.get_by_label("What happened").select_option("detention.reported")
    page.get_by_label("Number of people").fill(str(count))
    page.get_by_label("Reason").fill("held a placard outside the akimat")
    if photo is not None:
        page.get_by_label("Photos").set_input_files(photo)
        expect(page.get_by_role("img", name="Photo 1")).to_be_visible()
    page.get_by_role("button", name="Save report").click()


def arrive(page: Page) -> None:
    page.get_by_role("button", name="I have arrived at the station").click()


def report(page: Page, text: str) -> Locator:
    return page.get_by_test_id("report").filter(has_text=text)


def in_state(page: Page, state: str) -> Locator:
    return page.get_by_test_id("report").filter(
        has=page.get_by_test_id("report-state").filter(has_text=state))


def expect_states(page: Page, state: str, count: int, timeout: float = 5_000) -> None:
    expect(page.get_by_test_id("report-state").filter(has_text=state)).to_have_count(
        count, timeout=timeout)


def event_ids(page: Page) -> dict[str, str]:
    """The reports on the phone: event id -> title."""
    return dict(page.get_by_test_id("report").evaluate_all(
        "items => items.map(i => [i.dataset.eventId, i.querySelector('strong').textContent])"))


def token_of(page: Page) -> str:
    """Her token, as the app keeps it in IndexedDB."""
    return str(page.evaluate("""() => new Promise((done, failed) => {
        const opened = indexedDB.open("saylau-observe");
        opened.onerror = failed;
        opened.onsuccess = () => {
          const got = opened.result.transaction("kv").objectStore("kv").get("session");
          got.onsuccess = () => done(got.result.token);
        };
      })"""))


def refused(stack: Stack, token: str) -> bool:
    return httpx.get(f"{stack.ingest_url}/v1/observer/me", timeout=10, headers={
        "Authorization": f"Bearer {token}"}).status_code == 401


def big_photo(tmp_path: Path) -> Path:
    path = tmp_path / "square.jpg"
    Image.new("RGB", (3000, 1500), (200, 40, 40)).save(path, "JPEG", quality=90)
    return path


def read_event(stack: Stack, event_id: str) -> dict[str, Any]:
    return wait_until(lambda: (r := stack.get(f"/v1/events/{event_id}")).status_code == 200
                      and r.json(), 30)


def timeline_types(stack: Stack, station_id: str) -> list[str]:
    reply = stack.get(f"/v1/stations/{station_id}/timeline")
    return [e["type"] for e in reply.json()["events"]] if reply.status_code == 200 else []


# ---- tests -------------------------------------------------------------------------------------

def test_reports_saved_offline_survive_reload_and_restart_and_count_once(
        stack: Stack, phone: Phone, network: Network, tmp_path: Path) -> None:
    who = accredit(stack)
    page = phone.open()
    signed_in(page, who)
    phone.online.set_offline(True)
    file_checklist(page)
    file_detention(page, 4, big_photo(tmp_path))
    arrive(page)
    expect_states(page, "queued", 3)

    page.reload()  # offline: the app comes from the service worker, the queue from IndexedDB
    expect_states(page, "queued", 3)
    expect(page.get_by_test_id("stations")).to_contain_text(who.station_id)
    network.cut()
    phone.close()

    page = phone.open(offline=True)  # the browser reopened, still without a network
    expect_states(page, "queued", 3)
    expect(page.get_by_test_id("stations")).to_contain_text(who.station_id)
    network.restore()
    phone.online.set_offline(False)
    expect_states(page, "sent", 3, SENT_WITHIN_MS)

    found = [read_event(stack, event_id) for event_id in event_ids(page)]
    events = {e["record"]["type"]: e for e in found}
    assert set(events) == {"checklist.submitted", "detention.reported", "observer.arrived"}
    at_station = wait_until(lambda: (types := timeline_types(stack, who.station_id))
                            and "observer.arrived" in types and types, 30)
    assert at_station.count("checklist.submitted") == at_station.count("observer.arrived") == 1
    assert wait_until(lambda: stack.detentions_in(who.city), 30)["detained_total"] == 4

    [photo] = events["detention.reported"]["evidence_files"]
    assert photo["media_type"] == "image/jpeg"
    stored = stack.get(f"/v1/evidence/{photo['derivative_sha256']}")  # what readers see
    assert stored.status_code == 200
    assert max(Image.open(io.BytesIO(stored.content)).size) == 2048
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "observer-app.png"), full_page=True)


def test_an_answer_lost_after_the_server_accepted_is_resent_and_counted_once(
        stack: Stack, phone: Phone) -> None:
    who = accredit(stack)
    page = phone.open()
    signed_in(page, who)
    lost: list[int] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)  # the server has it ...
            route.abort("internetdisconnected")  # ... the phone never hears so
        else:
            route.continue_()

    phone.online.route("**/v1/events", lose_the_first_answer)
    arrive(page)
    arrival = report(page, "Arrival")
    expect(arrival.get_by_test_id("report-state")).to_have_text("sent", timeout=SENT_WITHIN_MS)
    expect(arrival).to_have_attribute("data-outcome", "duplicate")
    expect(arrival).to_contain_text("already had it")
    assert lost == [202]
    wait_until(lambda: "observer.arrived" in timeline_types(stack, who.station_id), 30)
    assert timeline_types(stack, who.station_id).count("observer.arrived") == 1


def test_a_rejected_report_names_the_field_and_holds_nothing_back(
        stack: Stack, phone: Phone) -> None:
    who = accredit(stack)
    page = phone.open()
    signed_in(page, who)
    phone.online.set_offline(True)
    page.clock.set_system_time(datetime.now(UTC) + timedelta(days=3))  # her clock is wrong
    file_detention(page, 2)
    page.clock.set_system_time(datetime.now(UTC))  # and set right again
    file_checklist(page)
    arrive(page)
    expect_states(page, "queued", 3)
    phone.online.set_offline(False)

    expect_states(page, "sent", 2, SENT_WITHIN_MS)
    rejected = in_state(page, "rejected")
    expect(rejected.get_by_test_id("report-state")).to_have_text("rejected")
    expect(rejected.get_by_test_id("report-reason")).to_contain_text("occurred_at")
    page.reload()
    expect(rejected.get_by_test_id("report-state")).to_have_text("rejected")
    expect(rejected.get_by_test_id("report-reason")).to_contain_text("occurred_at")
    assert stack.detentions_in(who.city) is None

    rejected.get_by_role("button", name="Make a corrected report").click()
    expect(page.get_by_label("Number of people")).to_have_value("2")
    page.get_by_role("button", name="Save report").click()
    expect_states(page, "sent", 3, SENT_WITHIN_MS)
    rejected.get_by_role("button", name="Discard").click()
    rejected.get_by_role("button", name="Discard for good?").click()
    expect(rejected).to_have_count(0)
    expect(page.get_by_test_id("report")).to_have_count(3)
    assert wait_until(lambda: stack.detentions_in(who.city), 30)["detained_total"] == 2


def test_five_wrong_pins_lock_her_out_until_unlocked(stack: Stack, phone: Phone) -> None:
    who = accredit(stack)
    page = phone.open()
    error = page.get_by_test_id("sign-in-error")
    for _ in range(5):
        sign_in(page, who, pin="000000" if who.pin != "000000" else "111111")
        expect(error).to_be_visible()
    sign_in(page, who)  # the right PIN, too late
    expect(error).to_contain_text("Locked")
    expect(page.get_by_test_id("stations")).to_be_hidden()

    assert saylau(stack, "observers", "unlock", who.observer_id).returncode == 0
    signed_in(page, who)


def test_a_revoked_accreditation_is_said_and_the_queue_kept_for_the_coordinator(
        stack: Stack, phone: Phone, tmp_path: Path) -> None:
    who = accredit(stack)
    page = phone.open()
    signed_in(page, who)
    phone.online.set_offline(True)
    file_detention(page, 3, big_photo(tmp_path))
    arrive(page)
    expect_states(page, "queued", 2)
    token = token_of(page)
    revoked = envelope("observer.accreditation_revoked",  # after her accreditation
                       {"observer_id": who.observer_id, "reason": "certificate not notarised"},
                       occurred_at=LATER)
    assert stack.post(revoked).status_code == 202
    wait_until(lambda: refused(stack, token), 30, 0.5)

    phone.online.set_offline(False)
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("alert").filter(has_text="revoked")).to_contain_text(
        "certificate not notarised", timeout=SENT_WITHIN_MS)  # the server's reason
    expect_states(page, "queued", 2)
    expect(report(page, "Detention").get_by_test_id("report-reason")).to_contain_text("revoked")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Save unsent reports as a file").click()
    saved = json.loads(Path(downloading.value.path()).read_text())
    assert {r["event_id"] for r in saved["reports"]} == set(event_ids(page))
    assert {r["envelope"]["type"] for r in saved["reports"]} == {"detention.reported",
                                                                  "observer.arrived"}
    assert [p["base64"] is not None or p["uploaded"] for p in saved["photos"]] == [True]

    page.reload()
    expect_states(page, "queued", 2)
    assert stack.detentions_in(who.city) is None


def test_an_expired_session_keeps_the_queue_until_she_signs_in_again(
        brief_tokens: Stack, playwright: Playwright, tmp_path: Path) -> None:
    phone = Phone(playwright, tmp_path / "profile", brief_tokens.ingest_url)
    who = accredit(brief_tokens)
    try:
        page = phone.open()
        signed_in(page, who)
        phone.online.set_offline(True)
        arrive(page)
        expect_states(page, "queued", 1)
        wait_until(lambda: refused(brief_tokens, token_of(page)), 30, 0.5)

        phone.online.set_offline(False)
        expect(page.get_by_test_id("sign-in-note")).to_contain_text("session has ended",
                                                                     timeout=SENT_WITHIN_MS)
        expect_states(page, "queued", 1)
        expect(report(page, "Arrival").get_by_test_id("report-reason")).to_contain_text(
            "sign in again")
        sign_in(page, who)
        expect_states(page, "sent", 1, SENT_WITHIN_MS)
    finally:
        phone.close()
    assert not phone.errors, f"JavaScript errors or CSP violations: {phone.errors}"
