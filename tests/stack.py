"""Start the three services against the real Kafka and PostgreSQL, isolated per stack.

Each stack gets its own events topic, consumer group and read-model schema, so stacks share
one broker and one database without seeing each other's data; ``stop`` drops them again.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DeleteGroupsRequest

from saylau.privacy.keys import new_master_key_text
from saylau.settings import Settings
from saylau.web.keys import hash_key, new_key

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KAFKA = str(Settings.model_fields["kafka_bootstrap"].default)
DEFAULT_DATABASE = str(Settings.model_fields["database_url"].default)
LOGS = ROOT / "var" / "log" / "tests"
HTTP = "saylau.web.transport:OneWritePerResponse"
"""uvicorn ``--http`` of ingest and api, as ``make up`` starts them (one write per answer)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")


EVIDENCE_LIMIT = 1024 * 1024
"""Test stacks take uploads up to 1 MiB (the default is 50 MiB), so 413 costs little."""


def _run_async(step: Callable[[], Any]) -> None:
    """Run a coroutine function to completion on a thread of its own (callers may already be
    inside an event loop); re-raise what it raised."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(step())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failed.append(exc)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(90)
    if worker.is_alive():
        raise TimeoutError(f"{step.__name__} did not finish in 90 s")
    if failed:
        raise failed[0]


@dataclass
class Stack:
    """One isolated deployment of ingest + projector + api."""

    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    partitions: int = 6
    api_workers: int = 1
    """api worker processes (uvicorn ``--workers``; ``API_WORKERS`` in ``scripts/up.sh``)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    logs: dict[int, Path] = field(default_factory=dict)
    """Each spawned process's log file, by pid (``log_of``)."""

    def __post_init__(self) -> None:
        self.writer_key = "wk_" + uuid.uuid4().hex
        self.reader_key = "rk_" + uuid.uuid4().hex
        self.ingest_port, self.api_port = free_port(), free_port()
        self.env = {**os.environ, "EVENTS_TOPIC": f"{self.name}.events",
                    "DEAD_LETTER_TOPIC": f"{self.name}.dlq", "READ_SCHEMA": self.name,
                    "INGEST_SCHEMA": f"{self.name}_ingest",
                    "PROJECTOR_GROUP": f"{self.name}-projector",
                    "EVENTS_PARTITIONS": str(self.partitions),
                    "SAYLAU_API_KEYS": f"tester:{self.writer_key},"
                                       f"reader:{self.reader_key}:read",
                    "SAYLAU_MASTER_KEY": new_master_key_text(),
                    "EVIDENCE_DIR": str(ROOT / "var" / "test-evidence" / self.name),
                    "EVIDENCE_MAX_BYTES": str(EVIDENCE_LIMIT),
                    # a killed projector's partitions move on after 15 s, not faust's 60
                    "BROKER_SESSION_TIMEOUT": "15", "BROKER_HEARTBEAT_INTERVAL": "3",
                    "PYTHONUNBUFFERED": "1", **self.extra_env}
        LOGS.mkdir(parents=True, exist_ok=True)

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, service: str, args: list[str]) -> subprocess.Popen[bytes]:
        n = len(self.procs.get(service, []))
        log = LOGS / f"{self.name}-{service}-{n}.log"
        out = open(log, "ab")  # noqa: SIM115 - the child process owns the file
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=out,
                                start_new_session=True)
        self.procs.setdefault(service, []).append(proc)
        self.logs[proc.pid] = log
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> Path:
        """What ``proc`` (a process this stack spawned) wrote to stdout and stderr."""
        return self.logs[proc.pid]

    def start_ingest(self) -> None:
        self._spawn("ingest", [sys.executable, "-m", "uvicorn", "services.ingest.app:app",
                               "--port", str(self.ingest_port), "--no-access-log", "--http", HTTP])
        wait_until(lambda: httpx.get(f"{self.ingest_url}/readyz").status_code == 200, 60)

    def start_api(self) -> None:
        self._spawn("api", [sys.executable, "-m", "uvicorn", "services.api.app:app",
                            "--port", str(self.api_port), "--no-access-log", "--http", HTTP,
                            "--workers", str(self.api_workers)])
        wait_until(lambda: httpx.get(f"{self.api_url}/readyz").status_code == 200, 60)

    def start_projector(self) -> subprocess.Popen[bytes]:
        return self._spawn("projector", [sys.executable, "-m", "services.projector.app"])

    def start_webhooks(self) -> subprocess.Popen[bytes]:
        """The outgoing-webhooks worker (optional: only webhook tests need it)."""
        proc = self._spawn("webhooks", [sys.executable, "-m", "services.webhooks.app"])
        wait_until(lambda: "following" in self.log_of(proc).read_text(), 60)
        return proc

    def start(self) -> Stack:
        self.start_ingest()
        self.start_projector()
        self.start_api()
        return self

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        for proc in self.procs.get(service, []):
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
                proc.wait(30)

    def stop(self) -> None:
        """Stop the services, then drop what the stack created: its schemas (read models,
        ingest's, and replay schemas named after it), its topics and its consumer group.

        Every step runs even when an earlier one failed (a service that ignores SIGTERM is
        killed; a server a fault test stopped is skipped after a short timeout); what could
        not be dropped is reported as a warning, never raised over the test's own result.
        """
        for service in list(self.procs):
            try:
                self.kill(service, signal.SIGTERM)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                self.kill(service, signal.SIGKILL)
        for step in (self._drop_schemas, self._drop_topics):
            try:
                _run_async(step)
            except Exception as exc:  # noqa: BLE001 - cleanup must never mask the test result
                warnings.warn(f"stack {self.name}: {step.__name__} failed: {exc!r}",
                              stacklevel=2)

    async def _drop_schemas(self) -> None:
        dsn = self.env.get("DATABASE_URL", DEFAULT_DATABASE).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn, timeout=5, command_timeout=30)
        try:
            await conn.execute("SET lock_timeout = '10s'")
            names = [r["nspname"] for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE '%' || $1 || '%'",
                self.name)]
            for name in names:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    async def _drop_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.env.get("KAFKA_BOOTSTRAP",
                                                                   DEFAULT_KAFKA),
                                    request_timeout_ms=10000)
        await asyncio.wait_for(admin.start(), 15)
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(f"{self.name}.")]
            if mine:
                await admin.delete_topics(mine)
            group = self.env["PROJECTOR_GROUP"]
            try:
                coordinator = await admin.find_coordinator(group)
                await admin._send_request(DeleteGroupsRequest([group]), coordinator)
            except KafkaError:
                pass  # never joined, or already gone
        finally:
            await admin.close()

    def add_key(self, partner: str, scopes: list[str], regions: list[str] | None = None) -> str:
        """A new key of ``partner`` in this stack's ``api_keys``, bound to ``regions`` (none:
        national), as ``saylau keys create`` makes one; the key itself is returned."""
        key = new_key()

        async def insert() -> None:
            conn = await asyncpg.connect(Settings().dsn)
            try:
                await conn.execute(f'INSERT INTO "{self.name}_ingest".api_keys (key_hash, '
                                   "partner, scopes, regions) VALUES ($1, $2, $3, $4)",
                                   hash_key(key), partner, scopes, regions)
            finally:
                await conn.close()
        _run_async(insert)
        return key

    # --- clients -----------------------------------------------------------------------
    def post(self, event: dict[str, Any], key: str | None = None) -> httpx.Response:
        return httpx.post(f"{self.ingest_url}/v1/events", json=event, timeout=30,
                          headers={"Authorization": f"Bearer {key or self.writer_key}"})

    def post_batch(self, events: list[dict[str, Any]]) -> httpx.Response:
        return httpx.post(f"{self.ingest_url}/v1/events:batch", json=events, timeout=60,
                          headers={"Authorization": f"Bearer {self.writer_key}"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.api_url}{path}", params=params, timeout=30,
                         headers={"Authorization": f"Bearer {self.reader_key}"})

    def walk(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a keyset-paged list, following ``next`` to the last page."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, **params, **({"cursor": cursor} if cursor else {}))
            assert page.status_code == 200, page.text
            items += page.json()[key]
            cursor = page.json()["next"]
            if cursor is None:
                return items

    def detentions_in(self, city: str) -> dict[str, Any] | None:
        cities = self.get("/v1/detentions").json()["cities"]
        return next((c for c in cities if c["city"] == city), None)


def execute_sql(statement: str) -> None:
    """Run one SQL statement (or several, separated by ``;``) on the test database."""
    async def run() -> None:
        conn = await asyncpg.connect(Settings().dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
    asyncio.run(run())


async def delete_topic(stack: Stack, recreate: bool = False) -> None:
    """Delete the stack's events topic (and, with ``recreate``, create it again: same name and
    partitions, a new topic id, as a recreated or new cluster looks to the services)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = stack.env["EVENTS_TOPIC"]
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP"])
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(150):
            if topic not in await admin.list_topics():
                break
            await asyncio.sleep(0.2)
        if recreate:
            await admin.create_topics([NewTopic(topic, stack.partitions, 1)])
    finally:
        await admin.close()
