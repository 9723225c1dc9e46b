"""``saylau erase`` and its ``personal_data.erased`` record do not part ways: when the append
fails after the keys were destroyed, running the command again records the real count.

In-process (the append is failed by replacing ``Intake.submit``), against the shared Kafka
and PostgreSQL, with a stack's topic and schemas and no service running."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from saylau.audit.logsource import KafkaLog
from saylau.bootstrap import Needs, bootstrap
from saylau.cli import main
from saylau.intake.outcome import INGEST_ONLY, Outcome
from saylau.intake.service import Intake
from saylau.settings import settings
from saylau.web.keys import SCOPES
from tests.factories import detention, unique
from tests.stack import Stack

pytestmark = pytest.mark.integration
ERASED = "personal_data.erased"


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A stack's settings in this process (nothing started); its topic and schemas dropped."""
    stack = Stack()
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    yield stack
    settings.cache_clear()
    stack.stop()


async def report(names: list[str]) -> None:
    cfg = settings()
    wiring = await bootstrap(cfg, Needs(search_path=cfg.ingest_schema, intake=True))
    try:
        assert wiring.intake is not None
        named = {**detention(unique(), len(names)),
                 "payload": {"count": len(names), "persons": names}}
        [outcome] = await wiring.intake.submit([named], "tester", frozenset(SCOPES))
        assert outcome.code == 202, outcome.body()
    finally:
        await wiring.close()


async def recorded_erasures() -> list[dict[str, Any]]:
    async with KafkaLog(settings().kafka_bootstrap, settings().events_topic) as log:
        records = [orjson.loads(m.value) for chunk in [c async for c in log.chunks(1000)]
                   for m in chunk]
    return sorted((r for r in records if r["type"] == ERASED),
                  key=lambda r: r["payload"]["requested_at"])


def test_a_rerun_after_a_failed_append_records_the_values_erased(
        deployment: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"Zhanat Reimov {unique('x')}"
    asyncio.run(report([name, "Arsen Zhumagaliev"]))
    submit, failed = Intake.submit, []

    async def broker_down_once(self: Intake, items: list[Any], partner: str,
                               scopes: frozenset[str] = INGEST_ONLY) -> list[Outcome]:
        if not failed and any(i.get("type") == ERASED for i in items):
            failed.append(items)
            return [Outcome(503, "unavailable", i["event_id"]) for i in items]
        return await submit(self, items, partner, scopes)
    monkeypatch.setattr(Intake, "submit", broker_down_once)

    erase = ["erase", "--name", name, "--reference", "DSR-7", "--key", deployment.writer_key]
    assert main(erase) == 1 and failed
    assert asyncio.run(recorded_erasures()) == []
    assert main(erase) == 0
    [recorded] = asyncio.run(recorded_erasures())
    assert recorded["payload"]["values"] == 1 and recorded["payload"]["reference"] == "DSR-7"
    assert main(erase) == 0  # nothing left: a request carried out again, and recorded
    assert [e["payload"]["values"] for e in asyncio.run(recorded_erasures())] == [1, 0]
