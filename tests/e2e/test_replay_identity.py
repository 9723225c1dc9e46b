"""A replay records the log's identity, not only offsets (issue 29 item 2): the topic's id
and the chain head at each partition's position, as the live projector does, so a rebuilt
schema switched into service is checked like the live one; ``saylau compare`` checks them."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from saylau.settings import Settings
from tests.factories import detention, unique
from tests.stack import Stack, execute_sql, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"


def saylau(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env=stack.env,
                          capture_output=True, text=True, timeout=600)


def identity(schema: str, topic: str) -> dict[int, tuple[Any, ...]]:
    async def read() -> dict[int, tuple[Any, ...]]:
        conn = await asyncpg.connect(Settings().dsn)
        try:
            rows = await conn.fetch(f'SELECT kafka_partition, next_offset, topic_id, chain_head '
                                    f'FROM "{schema}".projector_offsets WHERE topic = $1', topic)
        finally:
            await conn.close()
        return {r[0]: tuple(r[1:]) for r in rows}
    return asyncio.run(read())


def test_a_replay_stores_the_topic_id_and_chain_heads_and_compare_checks_them(
        stack: Stack) -> None:
    city, topic = unique(), stack.env["EVENTS_TOPIC"]
    for n in range(12):
        assert stack.post(detention(city, 1 + n % 3)).status_code == 202
    wait_until(lambda: (stack.detentions_in(city) or {}).get("detained_total") == 24)
    replayed = "replay_" + uuid.uuid4().hex[:8]
    done = saylau(stack, "replay", "--schema", replayed)
    assert done.returncode == 0, done.stderr

    live, replay = identity(stack.name, topic), identity(replayed, topic)
    reached = {p: row for p, row in replay.items() if row[0] > 0}
    assert reached, replay
    live_ids = {row[1] for row in live.values() if row[1]}
    assert len(live_ids) == 1 and {row[1] for row in replay.values()} == live_ids
    assert all(row[2] for row in reached.values())  # a chain head wherever records are
    compared = saylau(stack, "compare", "--replay", replayed)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert "log identity" not in compared.stdout

    partition = min(reached)
    execute_sql(f"UPDATE \"{replayed}\".projector_offsets SET chain_head = 'f00d' "
            f"WHERE topic = '{topic}' AND kafka_partition = {partition}")
    compared = saylau(stack, "compare", "--replay", replayed)
    assert compared.returncode == 1, compared.stdout + compared.stderr
    assert f"log identity DIFFERENT: partition {partition} at offset" in compared.stdout
    assert "chain head" in compared.stdout and "f00d" in compared.stdout
