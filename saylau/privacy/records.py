"""Sealing and revealing whole event records (the envelope as appended), for the intake,
the API, exports and replays.

A record is the wire form of an envelope (``type``, ``schema_version``, ``event_id``,
``payload``, …) possibly with ingest fields; only its ``payload`` changes here.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from saylau.catalogue import Catalogue
from saylau.envelope import canonical
from saylau.privacy.sealing import (
    ERASED,
    Keyring,
    decrypt_personal,
    encrypt_personal,
    redact_personal,
    sealed_key_ids,
)

Record = dict[str, Any]


class KeySource(Protocol):
    def keyring(self) -> Keyring: ...

    async def fill(self, keyring: Keyring, key_ids: Iterable[str]) -> Keyring: ...


def seal_record(record: Record, keyring: Keyring, cat: Catalogue | None = None) -> Record:
    """``record`` with its personal values sealed; new keys are in ``keyring.issued``."""
    payload = encrypt_personal(record["type"], record["payload"], keyring,
                               event_id=record["event_id"], version=record["schema_version"],
                               cat=cat)
    return {**record, "payload": payload}


def record_key_ids(records: Iterable[Record], cat: Catalogue | None = None) -> set[str]:
    """Every data key the records need, for one batched fetch."""
    return {key_id for r in records
            for key_id in sealed_key_ids(r["type"], r["payload"], r["schema_version"], cat)}


def open_record(record: Record, keyring: Keyring, erased_marker: str = ERASED,
                cat: Catalogue | None = None) -> Record:
    payload = decrypt_personal(record["type"], record["payload"], keyring,
                               event_id=record["event_id"], version=record["schema_version"],
                               erased_marker=erased_marker, cat=cat)
    return {**record, "payload": payload}


def redact_record(record: Record, cat: Catalogue | None = None) -> Record:
    return {**record, "payload": redact_personal(record["type"], record["payload"],
                                                 record["schema_version"], cat)}


async def reveal(records: Sequence[Record], keys: KeySource, *, readable: bool,
                 cat: Catalogue | None = None) -> list[Record]:
    """Records as a reader sees them: opened (one key fetch for all) when ``readable``
    (``audit`` / ``admin`` scope, ``export --decrypt``), else redacted."""
    if not readable:
        return [redact_record(r, cat) for r in records]
    keyring = await keys.fill(keys.keyring(), record_key_ids(records, cat))
    return [open_record(r, keyring, cat=cat) for r in records]


def dedup_fingerprint(index_key: bytes, envelope_wire: Record) -> str:
    """A keyed fingerprint of the partner's plaintext envelope, for "same id, same content?"
    on retries: sealing is randomised, so the content hash of the sealed record differs on
    every retry; a plain hash of the plaintext would let anyone holding the record confirm
    a guessed name, a keyed one does not."""
    keyed = _dedup_hmac(index_key).copy()
    keyed.update(canonical(envelope_wire))
    return keyed.hexdigest()


@functools.lru_cache(maxsize=8)
def _dedup_hmac(index_key: bytes) -> hmac.HMAC:
    """The HMAC keyed for dedup, derived once per index key (copied for each fingerprint)."""
    dedup_key = hmac.new(index_key, b"saylau.dedup.v1", hashlib.sha256).digest()
    return hmac.new(dedup_key, digestmod=hashlib.sha256)


class Names:
    """How one reader sees the names in records: opened for the ``audit`` and ``admin``
    scopes (``"[erased]"`` once erased), ``"[redacted]"`` for everyone else."""

    def __init__(self, keys: KeySource | None, readable: bool,
                 cat: Catalogue | None = None) -> None:
        if readable and keys is None:
            raise ValueError("reading names needs the data-key store")
        self.keys, self.readable, self.cat = keys, readable, cat

    async def show(self, records: Sequence[Record]) -> list[Record]:
        """The records as this reader sees them (a record that is no event is kept as is)."""
        events = [r for r in records if is_event(r)]
        shown = iter(await reveal(events, self.keys, readable=True, cat=self.cat)
                     if self.readable and self.keys is not None
                     else [redact_record(r, self.cat) for r in events])
        return [next(shown) if is_event(r) else r for r in records]


def is_event(record: Any) -> bool:
    """A record with the fields sealing reads (not a poison record in the log)."""
    return (isinstance(record, dict) and isinstance(record.get("payload"), dict)
            and all(k in record for k in ("type", "event_id", "schema_version")))

