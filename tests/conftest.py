"""Shared fixtures. Integration and e2e tests use the real Kafka and PostgreSQL that
``scripts/test.sh`` starts (or KAFKA_BOOTSTRAP / DATABASE_URL when given)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Stack, execute_sql


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One running ingest + projector + api for the tests that only post and read."""
    running = Stack().start()
    yield running
    running.stop()


@pytest.fixture
def own_stack() -> Iterator[Stack]:
    """A private stack, for tests that kill or restart services."""
    running = Stack()
    yield running
    running.stop()


@pytest.fixture
def schemas() -> Iterator[list[str]]:
    """Replay schemas a test creates, dropped afterwards."""
    created: list[str] = []
    yield created
    for schema in created:
        execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
