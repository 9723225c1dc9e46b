"""Entrypoints: nothing is built at import, and the HTTP contracts stay as published."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook

from saylau.outbound.webhooks import new_secret, signed_headers
from tests.stack import ROOT

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


def test_importing_an_entrypoint_builds_nothing() -> None:
    probe = ("import services.api.app as a, services.ingest.app as i, "
             "services.projector.app as p, services.webhooks.app; "
             "import sys; assert 'app' not in vars(a) and 'app' not in vars(i); "
             "assert not hasattr(p, 'app') and not hasattr(p, 'cfg'); print('clean')")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          check=False, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "clean", done.stderr


def test_uvicorn_still_finds_app_on_first_access() -> None:
    module = importlib.import_module("services.api.app")
    assert module.app is module.app  # built once, on first access


def test_openapi_documents_are_unchanged() -> None:
    """Paths, parameters and responses of both HTTP services as published before the
    restructuring (update the snapshot only for a deliberate contract change)."""
    from services.api.app import create_app as api
    from services.ingest.app import create_app as ingest
    now = json.loads(json.dumps({"ingest": ingest().openapi(), "api": api().openapi()},
                                sort_keys=True, default=str))
    assert now == json.loads(SNAPSHOT.read_text())


def test_webhook_signature_verifies_with_the_standard_library() -> None:
    secret, delivery, body = new_secret(), uuid.uuid4(), b'{"kind": "breach"}'
    headers = signed_headers(secret, delivery, body, datetime.now(UTC))
    assert headers["webhook-id"] == str(delivery)
    assert Webhook(secret).verify(body, headers) == {"kind": "breach"}


def test_legacy_secret_signs_with_its_text() -> None:
    legacy, delivery, body = "whsec_abc-DEF_ghi", uuid.uuid4(), b"{}"
    headers = signed_headers(legacy, delivery, body, datetime.now(UTC))
    assert Webhook(b"abc-DEF_ghi").verify(body, headers) == {}
