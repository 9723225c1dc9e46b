"""``saylau replay | compare | verify | export``: the auditor's subcommands.

Exit status: 0 success or a clean result, 1 a difference or a failed verification,
2 bad usage (unknown topic or schema, a schema replay may not replace, ...).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import asyncpg
from tqdm import tqdm

from saylau.audit import evidence as evidence_audit
from saylau.audit.compare import MissingSchema, TableComparison
from saylau.audit.export import Filters, export
from saylau.audit.logsource import ORDERS, ExportLog, KafkaLog
from saylau.audit.prove import CheckpointAudit, load_checkpoints, report_checkpoints
from saylau.audit.replay import (
    RefusedSchema,
    build_indexes,
    bulk_session,
    prepare_schema,
    replay,
    replay_projection,
)
from saylau.audit.shares import processes_for, replay_shares, split
from saylau.audit.snapshot import LiveBehind, Snapshot, compare_at_live_position
from saylau.audit.verify import LogAudit
from saylau.bootstrap import Needs, bootstrap
from saylau.cli.privacy import key_argument, operator
from saylau.cli.status import fail
from saylau.collector import quiet_collector
from saylau.privacy.keys import MasterKeyError
from saylau.privacy.records import Names
from saylau.settings import settings

FILTERED_NOTE = ("A filtered export (--since/--until/--region) leaves gaps in every hash chain: "
                 "verify can then check content hashes only. Export the whole log for a full "
                 "offline verification.")


class Progress:
    """A progress bar on stderr (tqdm): done/total, percent, rate; one line a minute when
    stderr is not a terminal (logs)."""

    def __init__(self, label: str, total: int) -> None:
        tty = sys.stderr.isatty()
        self.bar = tqdm(total=total or None, desc=label, unit=" records", unit_scale=True,
                        file=sys.stderr, mininterval=0.2 if tty else 60.0, dynamic_ncols=tty)

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def timestamp(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (argparse type)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, e.g. 2021-01-10T15:00:00+06:00")
    return value


def register(sub: Any) -> None:
    _replay_parser(sub)
    c = sub.add_parser("compare", help="compare a replayed schema with the live read models",
                       description="Row counts and md5 checksums of every read-model table "
                                   "in both schemas; the differing rows when they differ.")
    c.add_argument("--live", default=None, help="live schema (default: READ_SCHEMA)")
    c.add_argument("--replay", required=True, help="schema written by 'saylau replay'")
    c.add_argument("--limit", type=int, default=20, help="differing rows shown per side")
    c.set_defaults(run=run_compare)
    v = sub.add_parser("verify", help="check content hashes and hash chains of the log",
                       description=LogAudit.__doc__)
    _log_source_args(v)
    v.add_argument("--evidence", action="store_true",
                   help="also check that every evidence file the log references is stored and "
                        "hashes to its name (EVIDENCE_DIR / EVIDENCE_URL)")
    v.add_argument("--checkpoints", type=Path, metavar="FILE",
                   help="JSON lines written by 'saylau checkpoint': prove the log still holds "
                        "everything up to each (signature, end offsets, chain heads)")
    v.add_argument("--public-key", metavar="HEX",
                   help="the operator's published Ed25519 public key (hex) the checkpoints "
                        "must be signed with (default: the key each checkpoint names)")
    v.set_defaults(run=run_verify)
    _export_parser(sub)


def _log_source_args(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--topic", default=None, help="events topic (default: EVENTS_TOPIC)")
    source.add_argument("--from-export", type=Path, metavar="FILE.ndjson",
                        help="read an NDJSON file written by 'saylau export' instead of Kafka")


def _replay_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay", help="rebuild the read models from the log into a fresh schema",
        description="Feed the whole log through the live projection code into a new schema. "
                    "--until gives the read models as of a past moment: only events that "
                    "OCCURRED (occurred_at) at or before it are applied, whenever received.")
    _log_source_args(p)
    p.add_argument("--schema", help="target schema (default: replay_<yyyymmddhhmmss>); an "
                                    "existing replay_* schema is replaced")
    p.add_argument("--force", action="store_true",
                   help="allow replacing an existing schema not named replay_* (even live)")
    p.add_argument("--until", type=timestamp, metavar="TIMESTAMP",
                   help="as-of: apply only events with occurred_at <= TIMESTAMP")
    p.add_argument("--batch", type=int, default=5000, help="records per transaction")
    p.add_argument("--jobs", type=int, default=None,
                   help="partitions a process applies at once, one connection each (default "
                        "3 in one process, 1 each in several)")
    p.add_argument("--processes", default="auto", metavar="N|auto",
                   help="processes sharing the partitions (Kafka only; default auto: one per "
                        "CPU from 50,000 records, else 1)")
    p.add_argument("--order", choices=ORDERS, default="round-robin",
                   help="how partitions interleave (Kafka only; the result must not depend "
                        "on it)")
    p.add_argument("--seed", type=int, default=None, help="random seed for --order shuffle")
    p.set_defaults(run=run_replay)


def _export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write the log (or part of it) as NDJSON or CSV",
                       description="Export records with their content hash and chain link. "
                                   + FILTERED_NOTE)
    p.add_argument("--topic", default=None, help="events topic (default: EVENTS_TOPIC)")
    p.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    p.add_argument("--since", type=timestamp, metavar="TIMESTAMP",
                   help="only events with occurred_at >= TIMESTAMP")
    p.add_argument("--until", type=timestamp, metavar="TIMESTAMP",
                   help="only events with occurred_at <= TIMESTAMP")
    p.add_argument("--region", help="only events whose place.region is REGION")
    p.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    p.add_argument("--with-evidence", type=Path, metavar="FILE.tar",
                   help="write a tar instead: the NDJSON as events.ndjson and every evidence "
                        "file it references as evidence/<sha256>")
    p.add_argument("--decrypt", action="store_true",
                   help="write names and free texts in plaintext (an audit or admin key: "
                        "--key or SAYLAU_KEY; erased ones read [erased]); for reading only, "
                        "not for verify/replay")
    key_argument(p)
    p.set_defaults(run=run_export)


@contextlib.asynccontextmanager
async def names_for(args: argparse.Namespace) -> AsyncIterator[Names]:
    """Names opened for the operator of ``--key`` (audit or admin scope), for ``--decrypt``."""
    cfg = settings()
    wiring = await bootstrap(cfg, Needs(pool_size=2, keys=True))
    try:
        await operator(wiring.keyring, args.key, {"audit", "admin"}, "export --decrypt")
        yield Names(wiring.keys, readable=True)
    finally:
        await wiring.close()


def open_log(args: argparse.Namespace, order: str = "round-robin",
             seed: int | None = None) -> KafkaLog | ExportLog:
    if getattr(args, "from_export", None):
        return ExportLog(args.from_export)
    cfg = settings()
    return KafkaLog(cfg.kafka_bootstrap, args.topic or cfg.events_topic, order, seed)


async def run_replay(args: argparse.Namespace) -> int:
    cfg = settings()
    if args.batch < 1:
        return fail("--batch must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        return fail("--jobs must be at least 1")
    try:
        processes_for(args.processes, 0, 1, 1)
    except ValueError:
        return fail("--processes must be a number of at least 1, or auto")
    schema = args.schema or f"replay_{datetime.now(UTC):%Y%m%d%H%M%S}"
    quiet_collector()  # a replay allocates millions of short-lived objects
    conns = [await asyncpg.connect(cfg.dsn, command_timeout=None)]
    conn = conns[0]
    try:
        async with open_log(args, args.order, args.seed) as log:
            dropped = await prepare_schema(conn, schema, cfg, args.force, defer_indexes=True)
            if dropped:
                print(f"replaced existing schema {schema}", file=sys.stderr)
            processes = (processes_for(args.processes, log.total, len(log.extents),
                                       os.cpu_count()) if isinstance(log, KafkaLog) else 1)
            jobs = args.jobs or (1 if processes > 1 else 3)
            progress = Progress(f"replay {log.topic} -> {schema}"
                                + (f" ({processes} processes)" if processes > 1 else ""),
                                log.total)
            if processes > 1:
                stats = await replay_shares(
                    split(log, schema, processes, args.batch, jobs, args.until,
                          args.order, args.seed), log.position, progress)
            else:
                conns += [await asyncpg.connect(cfg.dsn, command_timeout=None)
                          for _ in range(jobs - 1)]
                for c in conns:
                    await bulk_session(c)
                stats = await replay(conn, log, replay_projection(schema, log.topic, cfg),
                                     args.batch, args.until, progress, more=conns[1:])
            progress.close()
            started = time.perf_counter()
            await build_indexes(conn, schema)
            indexing = time.perf_counter() - started
            stats.seconds += indexing
    except (RefusedSchema, LookupError, ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    finally:
        for c in conns:
            await c.close()
    print(f"replayed {stats.read:,} records of {log.topic} into schema {schema} in "
          f"{stats.seconds:.1f} s: {stats.rate:,.0f} events/s "
          f"({processes} process(es) x {jobs} partition workers; indexes built after, "
          f"{indexing:.1f} s)")
    print(f"  applied {stats.applied:,}, duplicates dropped {stats.duplicates:,}, "
          f"dead letters {stats.dead:,}"
          + (f", occurred after --until {stats.after_until:,}" if args.until else ""))
    print("  log position reached (partition:next offset): "
          + " ".join(f"{p}:{o}" for p, o in sorted(stats.position.items())))
    return 0


async def run_compare(args: argparse.Namespace) -> int:
    cfg = settings()
    live = args.live or cfg.read_schema
    conn = await asyncpg.connect(cfg.dsn, command_timeout=None)
    try:
        snapshot = await compare_at_live_position(conn, live, args.replay, cfg, args.limit,
                                                  on_wait=once_on_stderr())
    except (MissingSchema, LiveBehind, LookupError) as exc:
        return fail(str(exc))
    finally:
        await conn.close()
    print_comparison(snapshot.tables, live, args.replay)
    print_position(snapshot)
    for line in snapshot.identity:
        print(f"log identity DIFFERENT: {line}")
    tables, different = snapshot.tables, snapshot.different
    unequal = [t for t in tables if not t.equal]
    print(f"{len(tables) - len(unequal)}/{len(tables)} tables equal"
          + (f"; DIFFERENT: {', '.join(different)}" if different else ""))
    return 1 if different else 0


def once_on_stderr() -> Callable[[str], None]:
    said: set[str] = set()

    def say(message: str) -> None:
        if not said:
            print(message, file=sys.stderr)
        said.add(message)
    return say


def print_position(snapshot: Snapshot) -> None:
    where = " ".join(f"{p}:{o}" for p, o in sorted(snapshot.position.items()))
    if snapshot.as_of:
        print(f"replay is as of {snapshot.as_of}; live is not: compared as they stand "
              f"(live at {snapshot.topic} {where})")
        return
    print(f"compared at log position {snapshot.topic} {where} (partition:next offset; "
          f"replay brought up by {snapshot.caught_up:,} records)")


def print_comparison(tables: list[TableComparison], left: str, right: str) -> None:
    print(f"{'table':<20} {left + ' rows':>14} {right + ' rows':>20}  "
          f"{'checksum ' + left:<34} {'checksum ' + right:<34} result")
    for t in tables:
        print(f"{t.table:<20} {t.rows[0]:>14,} {t.rows[1]:>20,}  {t.checksums[0]:<34} "
              f"{t.checksums[1]:<34} {'equal' if t.equal else 'DIFFERENT'}")
    for t in tables:
        for side, rows in ((left, t.only_left), (right, t.only_right)):
            for row in rows:
                print(f"  {t.table}: only in {side}: {row}")


async def run_verify(args: argparse.Namespace) -> int:
    references = []
    try:
        checkpoints = load_checkpoints(args.checkpoints) if args.checkpoints else []
        anchors = CheckpointAudit(checkpoints)
        async with open_log(args) as log:
            filtered = isinstance(log, ExportLog) and log.filtered
            if checkpoints and filtered:
                return fail("a filtered export cannot prove checkpoints; export the whole log")
            audit = LogAudit(check_chain=not filtered)
            progress = Progress(f"verify {log.topic}", log.total)
            async for chunk in log.chunks(5000):
                for message in chunk:
                    audit.check(message)
                    if args.evidence:
                        references += evidence_audit.references_of(message.value)
                    anchors.check(message)
                progress(len(chunk))
            progress.close()
            if isinstance(log, ExportLog):
                audit.check_extents({} if filtered else log.extents)
    except (LookupError, ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    status = report_verification(audit, filtered)
    if args.evidence:
        status = max(status, await verify_evidence(references))
    if checkpoints:
        status = max(status, report_checkpoints(anchors, audit, log.topic, args.public_key))
    return status


async def verify_evidence(references: list[evidence_audit.Reference]) -> int:
    """Print each missing or altered evidence file with the event naming it; 1 if any."""
    mismatches = await evidence_audit.check_files(settings(), references)
    for mismatch in mismatches:
        print(mismatch)
    files = len({r.sha256 for r in references})
    print(f"checked {files:,} evidence file(s) named by {len(references):,} reference(s): "
          + ("OK" if not mismatches else f"{len(mismatches)} problem(s)"))
    return 1 if mismatches else 0


def report_verification(audit: LogAudit, filtered: bool) -> int:
    findings = audit.findings()
    for finding in findings:
        print(finding)
    chains = len(audit.heads)
    if filtered:
        print("filtered export: hash chains NOT checked, content hashes only")
    print(f"checked {audit.checked:,} records, {chains} chain(s): "
          + ("OK" if not findings else f"{len(findings)} problem(s); first: {findings[0]}"))
    for (partition, chain_id), (seq, offset, head) in sorted(audit.heads.items()):
        print(f"  head partition {partition} chain {chain_id[:8]} seq {seq} "
              f"offset {offset} hash {head}")
    for copy in audit.copies.found:
        print(copy)
    if audit.copies.found:
        print(f"{len(audit.copies.found):,} duplicate record(s): an event id appended again "
              "(a re-send ingest could not recognise); the read models count each event once")
    return 1 if findings else 0


async def run_export(args: argparse.Namespace) -> int:
    filters, missing = Filters(args.since, args.until, args.region), []
    async with contextlib.AsyncExitStack() as stack:
        try:
            opened = await stack.enter_async_context(names_for(args)) if args.decrypt else None
        except MasterKeyError as exc:
            return fail(f"master key: {exc}")
        if args.with_evidence and args.format != "ndjson":
            return fail("--with-evidence exports NDJSON")
        out: IO[bytes] = (stack.enter_context(evidence_audit.spool()) if args.with_evidence
                          else stack.enter_context(args.output.open("wb")) if args.output
                          else sys.stdout.buffer)
        try:
            async with open_log(args, order="partition") as log:
                progress = Progress(f"export {log.topic}", log.total)
                written = await export(log, out, args.format, filters, on_progress=progress,
                                       opened=opened)
                progress.close()
        except LookupError as exc:
            return fail(str(exc))
        if args.with_evidence:
            files, missing = await evidence_audit.tar_with_files(settings(), out,
                                                                  args.with_evidence)
            print(f"wrote {args.with_evidence}: events.ndjson and {files - len(missing):,} "
                  f"evidence file(s)" + (f"; NOT STORED: {', '.join(missing)}" if missing
                                        else ""), file=sys.stderr)
    print(f"exported {written:,} of {log.total:,} records as {args.format}"
          + (f" to {args.output}" if args.output and not args.with_evidence else ""),
          file=sys.stderr)
    if filters.active:
        print(FILTERED_NOTE, file=sys.stderr)
    return 1 if args.with_evidence and missing else 0
