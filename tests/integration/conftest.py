"""A private S3Proxy (S3 API over a local directory) for the evidence store's S3 adapter."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from saylau.settings import settings
from tests.stack import ROOT, free_port

IDENTITY, CREDENTIAL = "saylau-test", "saylau-test-secret"


@dataclass(frozen=True)
class S3Server:
    """A running S3Proxy and the fixed test key it accepts."""

    endpoint: str
    access_key: str = IDENTITY
    secret_key: str = CREDENTIAL


def _s3proxy(action: str, env: dict[str, str]) -> None:
    # the first start fetches the jars with Maven: allow for it
    subprocess.run(["bash", str(ROOT / "infra" / "s3proxy.sh"), action], check=True,
                   env={**os.environ, **env}, timeout=600, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """S3Proxy on a free port with its own data directory, stopped and deleted afterwards."""
    home = ROOT / "var" / f"test-s3proxy-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {"S3PROXY_PORT": str(port), "S3PROXY_RUN_DIR": str(home),
           "S3PROXY_IDENTITY": IDENTITY, "S3PROXY_CREDENTIAL": CREDENTIAL}
    _s3proxy("start", env)
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        _s3proxy("stop", env)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def ingest_schema() -> Iterator[str]:
    """A fresh INGEST_SCHEMA name for commands run by a test, dropped afterwards."""
    schema = f"cli_{uuid.uuid4().hex[:12]}"
    yield schema

    async def drop() -> None:
        conn = await asyncpg.connect(settings().dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    asyncio.run(drop())
