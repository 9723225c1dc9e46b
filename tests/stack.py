"""Start the three services against the real Kafka and PostgreSQL, isolated per stack.

Each stack gets its own events topic, consumer group and read-model schema, so stacks share
one broker and one database without cleanup and without seeing each other's data.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from saylau.privacy.keys import new_master_key_text

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "var" / "log" / "tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
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


@dataclass
class Stack:
    """One isolated deployment of ingest + projector + api."""

    name: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:10])
    partitions: int = 6
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

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
        return proc

    def start_ingest(self) -> None:
        self._spawn("ingest", [sys.executable, "-m", "uvicorn", "services.ingest.app:app",
                               "--port", str(self.ingest_port), "--no-access-log"])
        wait_until(lambda: httpx.get(f"{self.ingest_url}/readyz").status_code == 200, 60)

    def start_api(self) -> None:
        self._spawn("api", [sys.executable, "-m", "uvicorn", "services.api.app:app",
                            "--port", str(self.api_port), "--no-access-log"])
        wait_until(lambda: httpx.get(f"{self.api_url}/readyz").status_code == 200, 60)

    def start_projector(self) -> subprocess.Popen[bytes]:
        return self._spawn("projector", [sys.executable, "-m", "services.projector.app"])

    def start_webhooks(self) -> subprocess.Popen[bytes]:
        """The outgoing-webhooks worker (optional: only webhook tests need it)."""
        logged = LOGS / f"{self.name}-webhooks-{len(self.procs.get('webhooks', []))}.log"
        proc = self._spawn("webhooks", [sys.executable, "-m", "services.webhooks.app"])
        wait_until(lambda: "following" in logged.read_text(), 60)
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
        for service in list(self.procs):
            self.kill(service, signal.SIGTERM)

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
