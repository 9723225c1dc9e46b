"""Private Kafka and PostgreSQL instances, started and stopped by the test that breaks them.

The shared broker and database serve other engineers and tests; a fault test stops or
restarts only its own instance, on free ports, with its own data and run directories.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.stack import ROOT, free_port


@dataclass
class Instance:
    """One private server, driven through the project's own infra script."""

    script: str
    env: dict[str, str]
    home: Path

    def _run(self, action: str) -> None:
        subprocess.run(["bash", str(ROOT / "infra" / self.script), action], check=True,
                       env={**os.environ, **self.env}, timeout=120,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


@dataclass
class PrivateKafka(Instance):
    port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class PrivatePostgres(Instance):
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://saylau@127.0.0.1:{self.port}/saylau"


def _unique_home(kind: str, script: str, variable: str) -> Path:
    """A fresh run directory; refuses to go on if the script would act on the shared server."""
    if variable not in (ROOT / "infra" / script).read_text():
        pytest.fail(f"infra/{script} does not honour {variable}: it would touch the shared one")
    return ROOT / "var" / f"test-{kind}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def private_kafka() -> Iterator[PrivateKafka]:
    """A single-node broker of our own (stopped and deleted afterwards)."""
    home = _unique_home("kafka", "kafka.sh", "KAFKA_RUN_DIR")
    port, controller = free_port(), free_port()
    kafka = PrivateKafka("kafka.sh", {
        "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_RUN_DIR": str(home), "KAFKA_DATA": str(home / "data"),
        "KAFKA_BROKERS": "1",  # one node, even under `KAFKA_BROKERS=3 make test`
        "KAFKA_HEAP": "-Xms128m -Xmx384m"}, home, port)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of our own (stopped and deleted afterwards)."""
    home = _unique_home("pg", "postgres.sh", "PG_BASE")
    port = free_port()
    postgres = PrivatePostgres("postgres.sh", {"PG_PORT": str(port), "PG_BASE": str(home),
                                             "PG_DATA": str(home / "data")},
                               home, port)
    postgres.start()
    try:
        yield postgres
    finally:
        postgres.stop()
        shutil.rmtree(home, ignore_errors=True)
