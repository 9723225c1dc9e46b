"""The intake's one privacy step: seal the names and free texts of checked items before
they are hashed.

Order matters: data keys are issued and stored first, then the content hash and the hash
chain are computed over the ciphertext (so ``saylau verify`` needs no key), then the record
is produced. Dedup of retries uses a keyed fingerprint of the plaintext envelope instead of
the content hash, because sealing is randomised (a retry seals to other bytes).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from saylau.catalogue import Catalogue
from saylau.envelope import content_hash
from saylau.intake.outcome import Pending
from saylau.privacy.records import dedup_fingerprint, seal_record
from saylau.privacy.sealing import DataKey, Keyring


class SealingKeys(Protocol):
    """What the intake needs of the data-key store (``PostgresKeyStore``, ``InMemoryKeyStore``)."""

    index_key: bytes

    def keyring(self) -> Keyring: ...

    async def save(self, issued: Iterable[DataKey]) -> None: ...


def fingerprint(keys: SealingKeys, wire: dict[str, Any]) -> str:
    """Same plaintext envelope → same fingerprint (a retry); keyed, so it confirms no guess."""
    return dedup_fingerprint(keys.index_key, wire)


async def seal(pending: list[Pending], keys: SealingKeys, cat: Catalogue) -> None:
    """Seal each item's names and free texts (its ``wire`` is replaced), store the new data
    keys in one statement, and hash the sealed wire into ``digest``."""
    keyring = keys.keyring()
    for p in pending:
        p.wire = seal_record(p.wire, keyring, cat)
        p.digest = content_hash(p.wire)
    await keys.save(keyring.issued)
