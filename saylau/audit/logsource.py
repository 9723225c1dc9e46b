"""The event log as an auditor reads it: from Kafka or from an NDJSON export.

``KafkaLog`` reads every partition from its first offset up to the high watermark taken when
it starts (records appended later are not part of the audit), without a consumer group, so
an audit never moves the projector's offsets. ``ExportLog`` reads the file ``saylau export``
writes. Both yield chunks of ``Message``; within a partition, offsets always ascend.
"""
from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from saylau.envelope import canonical
from saylau.log.decode import Message, parse_record  # noqa: F401 - re-exported

ORDERS = ("round-robin", "partition", "shuffle")
"""How chunks of different partitions interleave; the read models must not depend on it."""
HEADER_KEY = "saylau_export"


@dataclass(frozen=True)
class Extent:
    """Offsets ``low`` (first kept) to ``high`` (next to be written) of one partition."""

    low: int
    high: int


class KafkaLog:
    """One topic, offset 0 (or the first retained) to the high watermark, in every partition.

    ``start`` and ``stop`` narrow a partition to offsets ``start[p]`` up to (not including)
    ``stop[p]``: a replay that stops at a given log position, or catches up from one.
    """

    def __init__(self, bootstrap: str, topic: str, order: str = "round-robin",
                 seed: int | None = None, start: dict[int, int] | None = None,
                 stop: dict[int, int] | None = None) -> None:
        self.topic, self.order, self._random = topic, order, random.Random(seed)
        self.bootstrap: str | None = bootstrap
        self._start, self._stop = start or {}, stop
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024)
        self.extents: dict[int, Extent] = {}
        self.ends: dict[int, int] = {}
        self.header: dict[str, Any] | None = None

    async def __aenter__(self) -> Self:
        await self._consumer.start()
        if self.topic not in await self._consumer.topics():
            await self._consumer.stop()
            raise LookupError(f"no topic {self.topic!r} at the broker")
        self._consumer._client.add_topic(self.topic)  # topics() does not fill this cache
        await self._consumer._client.force_metadata_update()
        parts = [TopicPartition(self.topic, p)
                 for p in sorted(self._consumer.partitions_for_topic(self.topic) or ())]
        self._consumer.assign(parts)
        lows = await self._consumer.beginning_offsets(parts)
        highs = await self._consumer.end_offsets(parts)
        self.ends = {tp.partition: highs[tp] for tp in parts}
        self.extents = {tp.partition: self._narrowed(tp.partition, lows[tp], highs[tp])
                        for tp in parts}
        for tp in parts:
            self._consumer.seek(tp, self.extents[tp.partition].low)
        idle = [tp for tp in parts if self.extents[tp.partition].high <= self.extents[tp.partition].low]
        if idle:  # nothing to read there (narrowed away): the fetcher leaves them alone
            self._consumer.pause(*idle)
        return self

    def _narrowed(self, partition: int, low: int, high: int) -> Extent:
        if self._stop is not None:
            high = min(high, self._stop.get(partition, 0))
        return Extent(max(low, min(self._start.get(partition, low), high)), high)

    @property
    def position(self) -> dict[int, int]:
        """Where a full read of this log ends: the next offset of every partition."""
        return {p: e.high for p, e in sorted(self.extents.items())}

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    @property
    def total(self) -> int:
        return sum(e.high - e.low for e in self.extents.values())

    async def chunks(self, size: int) -> AsyncIterator[list[Message]]:
        """Chunks of up to ``size`` messages, each from one partition, in ``order``."""
        pending = [p for p, e in sorted(self.extents.items()) if e.high > e.low]
        while pending:
            partition = self._next(pending)
            chunk = await self._read(partition, size)
            if not chunk or chunk[-1].offset >= self.extents[partition].high - 1:
                pending.remove(partition)
            if chunk:
                yield chunk

    def _next(self, pending: list[int]) -> int:
        if self.order == "shuffle":
            return self._random.choice(pending)
        if self.order == "round-robin":
            pending.append(pending.pop(0))
            return pending[-1]
        return pending[0]

    async def _read(self, partition: int, size: int) -> list[Message]:
        tp, high = TopicPartition(self.topic, partition), self.extents[partition].high
        for _ in range(30):  # an empty fetch only means the fetcher is still busy
            found = await self._consumer.getmany(tp, timeout_ms=1000, max_records=size)
            records = found.get(tp, [])
            if records:
                return [Message(partition, r.offset, r.value or b"") for r in records
                        if r.offset < high]
            if await self._consumer.position(tp) >= high:
                return []
        raise TimeoutError(f"partition {partition} of {self.topic} stopped before offset {high}")


class ExportLog:
    """An NDJSON export; lines are read in file order (which is what ``verify`` checks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bootstrap: str | None = None  # a file: no topic id, no broker to read heads from
        self.header: dict[str, Any] | None = None
        self.extents: dict[int, Extent] = {}
        self.total = 0
        self._file: IO[bytes] | None = None

    async def __aenter__(self) -> Self:
        self._file = self.path.open("rb")
        first = self._file.readline()
        if first.strip() and HEADER_KEY in (parsed := _object(first, 1)):
            self.header = parsed[HEADER_KEY]
            if self.header.get("decrypted"):
                self._file.close()
                raise ValueError(f"{self.path} is a decrypted export (names in plaintext, for "
                                 "reading only): its content hashes do not match the log; "
                                 "verify or replay a plain export")
            self.extents = {int(p): Extent(*lh) for p, lh in self.header["partitions"].items()}
        self.total = sum(1 for line in self._file if line.strip())
        self._file.seek(len(first) if self.header else 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    @property
    def topic(self) -> str:
        return str(self.header["topic"]) if self.header else f"export:{self.path.name}"

    @property
    def filtered(self) -> bool:
        return bool(self.header and self.header.get("filters"))

    @property
    def position(self) -> dict[int, int]:
        """The next offset of every partition when the export was written (none if filtered)."""
        return {} if self.filtered else {p: e.high for p, e in sorted(self.extents.items())}

    async def chunks(self, size: int) -> AsyncIterator[list[Message]]:
        """Chunks of up to ``size`` lines, in file order (partitions may mix in a chunk)."""
        if self._file is None:
            raise RuntimeError("the export is not open: use 'async with ExportLog(...)'")
        chunk: list[Message] = []
        for number, line in enumerate(self._file, start=2 if self.header else 1):
            if line.strip():
                chunk.append(export_message(_object(line, number)))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def export_line(message: Message) -> bytes:
    """One NDJSON line: partition, offset and the record exactly as appended."""
    head = b'{"partition":%d,"offset":%d,' % (message.partition, message.offset)
    try:
        orjson.loads(message.value)
    except orjson.JSONDecodeError:
        raw = orjson.dumps(message.value.decode("utf-8", "backslashreplace"))
        return head + b'"raw":' + raw + b"}\n"
    return head + b'"record":' + message.value + b"}\n"


def export_message(line: dict[str, Any]) -> Message:
    """The log message an export line stands for (a non-JSON record keeps its raw text)."""
    if "record" in line:
        value = canonical(line["record"])
    else:
        value = str(line.get("raw", "")).encode()
    return Message(int(line["partition"]), int(line["offset"]), value)


def _object(line: bytes, number: int) -> dict[str, Any]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"line {number}: not JSON ({exc})") from None
    if not isinstance(parsed, dict) or not (HEADER_KEY in parsed or {"partition", "offset"}
                                            <= parsed.keys()):
        raise ValueError(f"line {number}: expected an object with partition, offset, record")
    return parsed
