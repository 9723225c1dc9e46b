"""Sealing and revealing whole event records (the envelope as appended), for the intake,
the API, exports and replays.

A record is the wire form of an envelope (``type``, ``schema_version``, ``event_id``,
``payload``, …) possibly with ingest fields; its ``payload`` changes here, and the one free
text of the envelope itself, an evidence file's ``caption`` (``ENVELOPE_TEXTS``).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from saylau.catalogue import Catalogue
from saylau.domain.fields import EACH, replace_at, strings_at
from saylau.envelope import canonical
from saylau.privacy.sealing import (
    ERASED,
    TEXT_WITHHELD,
    Keyring,
    aad_for,
    decrypt_personal,
    encrypt_personal,
    is_sealed,
    key_id_of,
    open_value,
    redact_personal,
    seal,
    sealed_key_ids,
)

Record = dict[str, Any]
KeptText = tuple[str | None, Any, str]
"""A free text a read model keeps apart from its event (a triage note, a caption): the value
as appended (sealed), the id of the event that carried it and its top-level payload field."""


class KeySource(Protocol):
    def keyring(self) -> Keyring: ...

    async def fill(self, keyring: Keyring, key_ids: Iterable[str]) -> Keyring: ...


ENVELOPE_TEXTS = (("evidence", EACH, "caption"),)
"""Free text in the envelope (``x-free-text`` in schemas/envelope.v1.json), sealed like the
payload's; its associated data names the field ``evidence``, as a payload caption's does."""


def envelope_texts(record: Record) -> list[tuple[tuple[str | int, ...], str]]:
    """The envelope's own free texts with their locations in the record."""
    return [found for path in ENVELOPE_TEXTS for found in strings_at(record, path)]


def _with_texts(record: Record, change: Callable[[tuple[str | int, ...], str], str]) -> Record:
    """``record`` with each envelope text replaced by ``change(location, text)``."""
    texts = envelope_texts(record)
    if not texts:
        return record
    changed = {**record, "evidence": [dict(item) if isinstance(item, dict) else item
                                      for item in record["evidence"]]}
    for location, value in texts:
        replace_at(changed, location, change(location, value))
    return changed


def seal_record(record: Record, keyring: Keyring, cat: Catalogue | None = None) -> Record:
    """``record`` with its names and free texts sealed; new keys are in ``keyring.issued``."""
    payload = encrypt_personal(record["type"], record["payload"], keyring,
                               event_id=record["event_id"], version=record["schema_version"],
                               cat=cat)
    return _with_texts({**record, "payload": payload}, lambda at, text: seal(
        text, keyring.issue(text, indexed=False), aad_for(record["event_id"], at)))


def record_key_ids(records: Iterable[Record], cat: Catalogue | None = None) -> set[str]:
    """Every data key the records need, for one batched fetch."""
    return {key_id for r in records
            for key_id in (*sealed_key_ids(r["type"], r["payload"], r["schema_version"], cat),
                           *(key_id_of(v) for _, v in envelope_texts(r) if is_sealed(v)))}


def open_record(record: Record, keyring: Keyring, erased_marker: str = ERASED,
                cat: Catalogue | None = None) -> Record:
    payload = decrypt_personal(record["type"], record["payload"], keyring,
                               event_id=record["event_id"], version=record["schema_version"],
                               erased_marker=erased_marker, cat=cat)
    return _with_texts({**record, "payload": payload}, lambda at, text: open_value(
        text, keyring, event_id=record["event_id"], field=str(at[0]),
        erased_marker=erased_marker))


def redact_record(record: Record, cat: Catalogue | None = None) -> Record:
    return _with_texts({**record, "payload": redact_personal(
        record["type"], record["payload"], record["schema_version"], cat)},
        lambda at, text: TEXT_WITHHELD)


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
    """How one reader sees the names and free texts in records: opened for the ``audit`` and
    ``admin`` scopes (``"[erased]"`` once erased); for everyone else a name is
    ``"[redacted]"`` and a free text ``"[text withheld]"``."""

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

    async def texts(self, kept: Sequence[KeptText]) -> list[str | None]:
        """Free texts kept in a read model, as this reader sees them (one key fetch for all);
        an absent text stays None."""
        if not self.readable or self.keys is None:
            return [None if value is None else TEXT_WITHHELD for value, _, _ in kept]
        keyring = await self.keys.fill(self.keys.keyring(), {
            key_id_of(value) for value, _, _ in kept if is_sealed(value)})
        return [None if value is None else open_value(value, keyring, event_id=event_id,
                                                      field=field)
                for value, event_id, field in kept]


def is_event(record: Any) -> bool:
    """A record with the fields sealing reads (not a poison record in the log)."""
    return (isinstance(record, dict) and isinstance(record.get("payload"), dict)
            and all(k in record for k in ("type", "event_id", "schema_version")))

