"""``saylau keys`` knows the keys the services know: SAYLAU_API_KEYS and the stored ones."""
from __future__ import annotations

import pytest

from tests.integration.test_master_key_cli import saylau

pytestmark = pytest.mark.integration


def test_keys_list_and_revoke_name_the_keys_of_saylau_api_keys(ingest_schema: str) -> None:
    env = {"INGEST_SCHEMA": ingest_schema, "SAYLAU_API_KEYS": "demo:sw_given,desk:sw_desk:read"}
    stored = saylau(env, "keys", "create", "newsroom", "--scopes", "read,audit")
    assert stored.returncode == 0, stored.stderr
    listed = saylau(env, "keys", "list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["demo", "desk", "newsroom"]
    assert listed[0].endswith("active (SAYLAU_API_KEYS)") and "admin" in listed[0]
    assert listed[2].split()[1:] == ["read,audit", "active"]
    given = saylau(env, "keys", "revoke", "sw_given")
    assert given.returncode == 2 and "SAYLAU_API_KEYS" in given.stderr, given
    unknown = saylau(env, "keys", "revoke", "sw_nobody")
    assert unknown.returncode == 2 and "no such active key" in unknown.stderr, unknown
    assert saylau(env, "keys", "revoke", stored.stdout.strip()).stdout == "revoked\n"
