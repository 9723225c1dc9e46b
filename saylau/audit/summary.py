"""Replay + compare + verify in one go, and a summary an auditor can sign (``saylau audit``).

The three steps meet at one log position: the replay is brought up to the live snapshot's
offsets (``saylau.audit.snapshot``), and the chains are verified up to those same offsets, so
the summary states, for one position of the log, the row count and checksum of every read
model (live and replay agreeing) and the head of every hash chain.
"""
from __future__ import annotations

import sys
from datetime import datetime

import asyncpg

from saylau.audit.logsource import KafkaLog
from saylau.audit.replay import prepare_schema, replay, replay_projection
from saylau.audit.snapshot import Snapshot, compare_at_live_position
from saylau.audit.verify import LogAudit
from saylau.settings import Settings


async def replay_and_compare(conn: asyncpg.Connection, cfg: Settings, topic: str, live: str,
                             schema: str, batch: int) -> Snapshot:
    await prepare_schema(conn, schema, cfg, force=False)
    async with KafkaLog(cfg.kafka_bootstrap, topic) as log:
        stats = await replay(conn, log, replay_projection(schema, topic, cfg), batch)
    print(f"replayed {stats.read:,} records into {schema} in {stats.seconds:.1f} s",
          file=sys.stderr)
    return await compare_at_live_position(conn, live, schema, cfg)


async def verify_up_to(cfg: Settings, topic: str, position: dict[int, int]) -> LogAudit:
    """Content hashes and chains of every record before ``position``."""
    audit = LogAudit()
    async with KafkaLog(cfg.kafka_bootstrap, topic, "partition", stop=position) as log:
        async for chunk in log.chunks(5000):
            for message in chunk:
                audit.check(message)
    return audit


def passed(snapshot: Snapshot, audit: LogAudit) -> bool:
    return not snapshot.different and not audit.findings()


def summary(topic: str, live: str, started: datetime, snapshot: Snapshot,
            audit: LogAudit) -> list[str]:
    """The lines an auditor signs: position, read models, chain heads, findings, result."""
    records = sum(snapshot.position.values())
    lines = ["SAYLAU AUDIT", f"topic:         {topic}", f"live schema:   {live}",
             f"started at:    {started.isoformat(timespec='seconds')}",
             "log position:  " + " ".join(f"{p}:{o}" for p, o in sorted(snapshot.position.items()))
             + f"  (partition:next offset; {records:,} records)",
             "read models at this position (live | replay):"]
    for t in snapshot.tables:
        lines.append(f"  {t.table:<20} {t.rows[0]:>10,} | {t.rows[1]:>10,} rows  "
                     f"md5 {t.checksums[0]} | {t.checksums[1]}  "
                     + ("equal" if t.equal else "DIFFERENT"))
        lines += [f"    only in live: {row}" for row in t.only_left]
        lines += [f"    only in replay: {row}" for row in t.only_right]
    lines.append(f"chain heads ({len(audit.heads)} chains, {audit.checked:,} records verified):")
    for (partition, chain_id), (seq, offset, head) in sorted(audit.heads.items()):
        lines.append(f"  partition {partition} chain {chain_id} seq {seq} offset {offset} "
                     f"hash {head}")
    findings = audit.findings()
    lines += [f"  finding: {f}" for f in findings]
    equal = len(snapshot.tables) - len(snapshot.different)
    verdict = "PASS" if passed(snapshot, audit) else "FAIL"
    lines.append(f"RESULT: {verdict}: {equal}/{len(snapshot.tables)} tables equal"
                 + (f" (DIFFERENT: {', '.join(snapshot.different)})" if snapshot.different
                    else "")
                 + (f"; log: {len(findings)} problem(s)" if findings else "; log verified"))
    return lines
