"""Staff accounts: ``saylau users``, sign-in with login and password, lock-out, disabling,
keys bound to regions, and the dashboard session's writes to ingest (CSRF token, Origin)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_observers import saylau
from tests.factories import envelope, stuffing, unique
from tests.stack import Stack, wait_until


@pytest.fixture(scope="module")
def centre() -> Iterator[Stack]:
    """A stack whose ingest takes the dashboard's (the api's) session writes."""
    stack = Stack()
    stack.env["SAYLAU_DASHBOARD_ORIGINS"] = stack.api_url
    stack.env["SAYLAU_INGEST_URL"] = stack.ingest_url
    try:
        yield stack.start()
    finally:
        stack.stop()


def add_user(stack: Stack, login: str, role: str, *regions: str) -> str:
    """A new account's initial password (the last line ``saylau users add`` prints)."""
    flags = [arg for region in regions for arg in ("--region", region)]
    done = saylau(stack, "users", "add", login, "--role", role, *flags)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def sign_in(stack: Stack, **body: str) -> httpx.Response:
    return httpx.post(f"{stack.api_url}/v1/session", json=body, timeout=30)


def session_of(stack: Stack, login: str, password: str) -> dict[str, Any]:
    """The signed-in session: its cookie and what ``GET /v1/session`` says."""
    signed = sign_in(stack, login=login, password=password)
    assert signed.status_code == 200, signed.text
    cookies = {"saylau_session": signed.cookies["saylau_session"]}
    who = httpx.get(f"{stack.api_url}/v1/session", cookies=cookies, timeout=30)
    assert who.status_code == 200, who.text
    return {"cookies": cookies, **who.json()}


def listed(stack: Stack, login: str) -> list[str]:
    rows = [line.split() for line in saylau(stack, "users", "list").stdout.splitlines()]
    return next(row for row in rows if row[0] == login)


def test_users_add_list_and_the_refusals(centre: Stack) -> None:
    login = unique("dana")
    password = add_user(centre, login, "coordinator", "Almaty", "Turkistan")
    assert len(password) >= 16
    assert listed(centre, login) == [login, "coordinator", "Almaty,Turkistan", "active"]
    analyst = unique("aru")
    add_user(centre, analyst, "analyst")
    assert listed(centre, analyst) == [analyst, "analyst", "-", "active"]
    refused = {
        "unknown role": ("users", "add", unique("x"), "--role", "chief"),
        "a coordinator": ("users", "add", unique("x"), "--role", "coordinator"),
        "'Turkestan' is not a canonical": ("users", "add", unique("x"), "--role",
                                           "coordinator", "--region", "Turkestan"),
        "exists": ("users", "add", login, "--role", "analyst"),
        "national": ("users", "add", unique("x"), "--role", "analyst", "--region", "Almaty"),
        "no active account": ("users", "disable", unique("nobody")),
    }
    for why, args in refused.items():
        done = saylau(centre, *args)
        assert done.returncode == 2 and why in done.stderr and not done.stdout, (why, done)
    region = saylau(centre, "users", "add", unique("x"), "--role", "coordinator",
                    "--region", "Atlantis").stderr
    assert "Atlantis" in region and "Almaty, Almaty Region," in region  # the canonical list


def test_logins_and_key_partners_are_distinct_names(centre: Stack) -> None:
    partner, login = unique("golos"), unique("dana")
    assert saylau(centre, "keys", "create", partner, "--scopes", "read").returncode == 0
    as_login = saylau(centre, "users", "add", partner, "--role", "analyst")
    assert as_login.returncode == 2 and "partner" in as_login.stderr
    add_user(centre, login, "analyst")
    as_partner = saylau(centre, "keys", "create", login, "--scopes", "read")
    assert as_partner.returncode == 2 and "login" in as_partner.stderr
    prefixed = saylau(centre, "keys", "create", f"user:{login}", "--scopes", "read")
    assert prefixed.returncode == 2 and "user:" in prefixed.stderr


def test_a_key_bound_to_a_region(centre: Stack) -> None:
    bad = saylau(centre, "keys", "create", unique("p"), "--scopes", "read", "--region", "Almty")
    assert bad.returncode == 2 and "Almty" in bad.stderr
    key = saylau(centre, "keys", "create", unique("p"), "--scopes", "read,triage",
                 "--region", "Almaty", "--region", "Turkistan").stdout.strip().splitlines()[-1]
    signed = sign_in(centre, key=key)
    assert signed.status_code == 200 and signed.json()["regions"] == ["Almaty", "Turkistan"]


def test_an_account_signs_in_and_is_told_who_it_is(centre: Stack) -> None:
    login = unique("dana")
    session = session_of(centre, login, add_user(centre, login, "coordinator", "Turkistan",
                                                 "Almaty"))
    assert session["login"] == login and session["role"] == "coordinator"
    assert session["regions"] == ["Almaty", "Turkistan"]
    assert session["partner"] == f"user:{login}"
    assert session["scopes"] == ["broadcast", "read", "triage"]
    assert session["ingest_url"] == centre.ingest_url and session["csrf_token"]
    reads = httpx.get(f"{centre.api_url}/v1/stations", cookies=session["cookies"])
    assert reads.status_code == 200


def test_sign_in_takes_a_key_or_a_login_and_password_and_names_what_is_missing(
        centre: Stack) -> None:
    for body, field in (({"login": "dana"}, "password"), ({"password": "x"}, "login"),
                        ({}, "login"), ({"key": centre.reader_key, "login": "dana"}, "login")):
        reply = sign_in(centre, **body)
        assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", field]


def test_wrong_passwords_are_401_alike_and_five_lock_the_account_out(centre: Stack) -> None:
    login = unique("dana")
    password = add_user(centre, login, "analyst")
    unknown = sign_in(centre, login=unique("nobody"), password="guess")
    wrong = sign_in(centre, login=login, password="guess")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    for _ in range(3):
        assert sign_in(centre, login=login, password="guess").status_code == 401
    locked = sign_in(centre, login=login, password="guess")  # the fifth in a row
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800
    right = sign_in(centre, login=login, password=password)
    assert right.status_code == 429  # the right password too, until the lock-out ends


def test_a_disabled_account_loses_access_within_5_seconds(centre: Stack) -> None:
    login = unique("dana")
    session = session_of(centre, login, add_user(centre, login, "analyst"))
    assert saylau(centre, "users", "disable", login).returncode == 0
    wait_until(lambda: httpx.get(f"{centre.api_url}/v1/detentions",
                                 cookies=session["cookies"]).status_code == 401, 5)
    assert listed(centre, login)[3] == "disabled"
    again = sign_in(centre, login=login, password="whatever")
    assert again.status_code == 401


def test_a_revoked_keys_session_ends_within_5_seconds(centre: Stack) -> None:
    key = saylau(centre, "keys", "create", unique("p"), "--scopes", "read"
                 ).stdout.strip().splitlines()[-1]
    signed = sign_in(centre, key=key)
    cookies = {"saylau_session": signed.cookies["saylau_session"]}
    assert httpx.get(f"{centre.api_url}/v1/detentions", cookies=cookies).status_code == 200
    assert saylau(centre, "keys", "revoke", key).returncode == 0
    wait_until(lambda: httpx.get(f"{centre.api_url}/v1/detentions",
                                 cookies=cookies).status_code == 401, 5)


def triage(stack: Stack, session: dict[str, Any], event: dict[str, Any],
           **headers: str) -> httpx.Response:
    return httpx.post(f"{stack.ingest_url}/v1/events", json=event, cookies=session["cookies"],
                      headers=headers, timeout=30)


def status_of(stack: Stack, station: str, event_id: str) -> str | None:
    events = stack.get(f"/v1/stations/{station}/timeline").json()["events"]
    return next((e["status"] for e in events if e["event_id"] == event_id), None)


def test_a_session_writes_triage_to_ingest_with_its_csrf_token_from_the_dashboard(
        centre: Stack) -> None:
    station = unique("PS")
    report = stuffing(station, place={"region": "Almaty", "city": "Almaty"})
    assert centre.post(report).status_code == 202  # the key path, unchanged
    wait_until(lambda: status_of(centre, station, report["event_id"]), 30)
    login = unique("dana")
    session = session_of(centre, login, add_user(centre, login, "coordinator", "Almaty"))
    verified = envelope("report.verified", {"event_id": report["event_id"]})
    token, own = session["csrf_token"], centre.api_url
    assert triage(centre, session, verified, Origin=own).status_code == 403
    assert triage(centre, session, verified, Origin=own,
                  **{"X-CSRF-Token": "forged"}).status_code == 403
    assert triage(centre, session, verified, Origin="http://evil.example",
                  **{"X-CSRF-Token": token}).status_code == 403
    report_by_session = stuffing(unique("PS"))
    refused = triage(centre, session, report_by_session, Origin=own, **{"X-CSRF-Token": token})
    assert refused.status_code == 403 and "triage" in refused.text  # triage events only
    done = triage(centre, session, verified, Origin=own, **{"X-CSRF-Token": token})
    assert done.status_code == 202, done.text
    assert done.headers["access-control-allow-origin"] == own
    assert done.headers["access-control-allow-credentials"] == "true"
    wait_until(lambda: status_of(centre, station, report["event_id"]) == "verified", 30)


def test_an_analysts_session_may_not_triage(centre: Stack) -> None:
    login = unique("aru")
    session = session_of(centre, login, add_user(centre, login, "analyst"))
    station = unique("PS")
    report = stuffing(station)
    assert centre.post(report).status_code == 202
    claimed = envelope("triage.claimed", {"event_id": report["event_id"]})
    refused = triage(centre, session, claimed, Origin=centre.api_url,
                     **{"X-CSRF-Token": session["csrf_token"]})
    assert refused.status_code == 403
