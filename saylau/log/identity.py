"""Log identity: is the log a projector or ingest reads the log its stored state came from?

Pure: the caller reads the stored identity from PostgreSQL and the log facts from Kafka
(``saylau.log.kafka.log_facts`` and the chain hash of the record at each stored offset - 1), and
this decides. A topic recreated under the same name, a new cluster, a database restored from
another time or another centre all show here as a mismatch with a message saying what differs
and what to do, never as "everything already applied".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REMEDY = ("replay into a fresh schema with `saylau replay`, or point KAFKA_BOOTSTRAP back "
          "at the old cluster")


class LogMismatch(RuntimeError):
    """The stored state belongs to another log than the one configured: refuse to run."""


@dataclass(frozen=True)
class StoredIdentity:
    """What the read models (or ingest's dedup table) recorded about the log they came from."""

    topic: str
    topic_id: str | None
    """None when the state predates topic ids (then offsets and chain heads decide)."""
    next_offsets: Mapping[int, int]
    """Per partition, the offset of the next record to apply."""
    chain_heads: Mapping[int, str]
    """Per partition, the chain hash of the record at ``next_offset - 1`` (when known)."""


@dataclass(frozen=True)
class ObservedLog:
    """What the cluster says about the topic now."""

    topic_id: str
    end_offsets: Mapping[int, int]
    chain_at: Mapping[int, str | None]
    """Per partition, the chain hash of the record at the stored ``next_offset - 1``
    (None when that record has no chain or could not be read)."""


@dataclass(frozen=True)
class Mismatch:
    kind: str  # "topic_recreated" | "offset_beyond_end" | "chain_differs"
    partition: int | None
    message: str


@dataclass(frozen=True)
class Verdict:
    mismatches: tuple[Mismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def reason(self) -> str:
        """One line for logs and /readyz: every difference, then what to do."""
        return "; ".join(m.message for m in self.mismatches)


def check_identity(stored: StoredIdentity | None, observed: ObservedLog) -> Verdict:
    """Ok when nothing is stored yet (a fresh schema adopts the log it first reads) or when the
    topic id, every stored offset and every stored chain head agree with the log."""
    if stored is None:
        return Verdict()
    if stored.topic_id is not None and stored.topic_id != observed.topic_id:
        return Verdict((Mismatch(
            "topic_recreated", None,
            f"{stored.topic} topic was recreated: id {observed.topic_id}, read models came "
            f"from {stored.topic_id}; {REMEDY}"),))
    found = []
    for partition in sorted(stored.next_offsets):
        offset = stored.next_offsets[partition]
        end = observed.end_offsets.get(partition)
        if end is None or offset > end:
            found.append(Mismatch(
                "offset_beyond_end", partition,
                f"{stored.topic} partition {partition}: read models are at offset {offset} "
                f"but the partition ends at {end if end is not None else 'nothing (no such partition)'}"
                f", so they came from a longer log (a newer backup, or another centre); {REMEDY}"))
            continue
        want = stored.chain_heads.get(partition)
        if offset > 0 and want is not None:
            got = observed.chain_at.get(partition)
            if got != want:
                found.append(Mismatch(
                    "chain_differs", partition,
                    f"{stored.topic} partition {partition}: chain head at offset {offset - 1} "
                    f"is {got or 'missing'} in the log but {want} in the read models, so they "
                    f"came from a different log; {REMEDY}"))
    return Verdict(tuple(found))


DEDUP_REMEDY = ("move the centre with `saylau migrate-log --to BOOTSTRAP` (which records the new "
                "topic id), point KAFKA_BOOTSTRAP back at the old cluster, or start ingest on a "
                "fresh INGEST_SCHEMA")


def check_dedup(topic: str, schema: str, recorded_id: str | None, last_offsets: Mapping[int, int],
                observed_id: str, end_offsets: Mapping[int, int]) -> str | None:
    """Why ingest's dedup table (``schema``.accepted_events) does not belong to the log it
    is about to append to, or None. ``recorded_id``: the topic id recorded with it;
    ``last_offsets``: per partition, the highest offset it remembers accepting."""
    if recorded_id is not None and recorded_id != observed_id:
        return (f"ingest's dedup table {schema}.accepted_events belongs to topic {topic} id "
                f"{recorded_id}, but {topic} on this cluster has id {observed_id} (recreated, "
                f"or another cluster): a re-sent event would be answered `duplicate` without "
                f"being in this log; {DEDUP_REMEDY}")
    beyond = [f"partition {p}: accepted offset {o}, log ends at {end_offsets.get(p, 0)}"
              for p, o in sorted(last_offsets.items()) if o >= end_offsets.get(p, 0)]
    if beyond:
        return (f"ingest's dedup table {schema}.accepted_events remembers events beyond the end "
                f"of topic {topic} ({'; '.join(beyond)}), so it belongs to another log: a "
                f"re-sent event would be answered `duplicate` without being in this log; "
                f"{DEDUP_REMEDY}")
    return None
