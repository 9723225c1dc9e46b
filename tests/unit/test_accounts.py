"""Staff accounts' pure parts: grants name canonical regions, an account's principal, the
session's CSRF token."""
from __future__ import annotations

from saylau.cli.users import canonical_regions, is_account_partner, login_refusal
from saylau.domain.regions import not_canonical
from saylau.web.accounts import account_principal
from saylau.web.sessions import Session, csrf_token, session_hash

CANONICAL = ["Almaty", "Almaty Region", "Turkistan"]


def test_a_grant_names_canonical_regions_only() -> None:
    assert not_canonical(["Almaty", "Turkistan"], CANONICAL) is None
    alias = not_canonical(["Almaty", "Turkestan"], CANONICAL)
    assert alias is not None and "'Turkestan'" in alias
    assert alias.endswith("canonical regions: Almaty, Almaty Region, Turkistan")
    spelled = not_canonical(["almaty region"], CANONICAL)
    assert spelled is not None and "did you mean 'Almaty Region'?" in spelled


def test_the_shipped_election_files_give_the_canonical_regions() -> None:
    regions = canonical_regions()
    assert {"Almaty", "Turkistan", "Astana", "Nur-Sultan"} <= set(regions)  # 2021 and 2023
    assert "Turkestan" not in regions and regions == sorted(regions)


def test_an_accounts_principal_acts_as_user_login_with_its_roles_scopes() -> None:
    who = account_principal({"login": "dana", "role": "coordinator",
                             "regions": ["Turkistan", "Almaty"]})
    assert who.partner == "user:dana" and who.actor == "dana" and who.role == "coordinator"
    assert who.scopes == {"read", "triage", "broadcast"}
    assert who.reach.filter() == ["Almaty", "Turkistan"] and who.sees_names
    analyst = account_principal({"login": "aru", "role": "analyst", "regions": []})
    assert analyst.reach.national and not analyst.sees_names
    assert account_principal({"login": "x", "role": "retired", "regions": []}).scopes == set()


def test_logins_are_plain_names_and_user_prefixed_partners_are_the_accounts() -> None:
    assert login_refusal("dana.k@centre") is None
    assert login_refusal("-dana") is not None and login_refusal("da na") is not None
    assert login_refusal("x" * 101) is not None
    assert is_account_partner("user:dana") and not is_account_partner("golos")


def test_the_csrf_token_is_the_sessions_own_and_only_its_hash_is_kept() -> None:
    token = csrf_token("session-a")
    assert token == csrf_token("session-a") != csrf_token("session-b")
    assert "session-a" not in token
    kept = Session(None, "dana", session_hash(token))
    assert kept.carries(token)
    assert not kept.carries(csrf_token("session-b")) and not kept.carries("")
    assert not Session("k", None, None).carries(token)  # a session from before CSRF tokens
