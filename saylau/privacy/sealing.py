"""Pure sealing of personal values: encrypt, decrypt, redact, blind-index. No I/O.

Two kinds of value are sealed: names (``x-personal``), each with a blind index so that
``saylau find`` and ``saylau erase`` can look a name up, and free text (``x-free-text``:
descriptions, reasons, notes, a message's text), which gets no index (an index of a whole
text finds nothing) and is searched by decrypting it. A reader who may not read names sees
``"[redacted]"`` for a name and ``"[text withheld]"`` for a text.

A sealed value is the string ``enc:v1:<key_id>:<base64url(nonce | ciphertext | tag)>``,
AES-256-GCM under a data key of its own. It stands in the event JSON where the name was,
so the content hash and the chain cover ciphertext and ``saylau verify`` needs no key.
The associated data binds the event id and the top-level field: a sealed name copied into
another event or field does not decrypt. The plaintext is padded (0x80, then zeros) to a
multiple of 32 bytes, so the ciphertext does not tell a short name from a long one.
(The AAD names the top-level field, not the full path, so that
upcasting ``persons: [str]`` to ``persons: [{name, role}]`` keeps old values readable.)
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from saylau.catalogue import Catalogue, catalogue
from saylau.domain.fields import replace_at, strings_at

PREFIX = "enc:v1:"
REDACTED = "[redacted]"
TEXT_WITHHELD = "[text withheld]"
"""What a reader who may not read names sees in place of a free text (sealed or not)."""
ERASED = "[erased]"
PAD_TO = 32


class SealError(ValueError):
    """A sealed value that cannot be opened: tampered, moved to another event or field,
    or malformed."""


class UnknownKey(KeyError):
    """A sealed value whose data key was not loaded into the keyring."""


@dataclass(frozen=True)
class DataKey:
    """A fresh data key for one value, with the blind index of the name it seals (None for
    a free text)."""

    key_id: str
    dek: bytes
    blind_index: bytes | None


def normalise(name: str) -> str:
    """The form a name is indexed by: NFKC, case-folded, whitespace collapsed.

    Scripts are not folded into each other: "Жанат Реимов" and "Zhanat Reimov" index
    differently (transliteration is ambiguous), so a search names every spelling."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def blind_index(index_key: bytes, name: str) -> bytes:
    """HMAC-SHA256 of the normalised name under the index key."""
    return hmac.new(index_key, normalise(name).encode(), hashlib.sha256).digest()


@dataclass
class Keyring:
    """The data keys one call needs: loaded ones (``None`` once erased) and newly issued."""

    index_key: bytes
    keys: dict[str, bytes | None] = field(default_factory=dict)
    issued: list[DataKey] = field(default_factory=list)

    def issue(self, value: str, indexed: bool = True) -> DataKey:
        key = DataKey(_b64(os.urandom(16)), AESGCM.generate_key(bit_length=256),
                      blind_index(self.index_key, value) if indexed else None)
        self.keys[key.key_id] = key.dek
        self.issued.append(key)
        return key

    def key(self, key_id: str) -> bytes | None:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None


def seal(value: str, key: DataKey, aad: bytes) -> str:
    nonce, padded = os.urandom(12), _pad(value.encode())
    return f"{PREFIX}{key.key_id}:{_b64(nonce + AESGCM(key.dek).encrypt(nonce, padded, aad))}"


def open_sealed(token: str, dek: bytes, aad: bytes) -> str:
    blob = _unb64(token.split(":", 3)[3])
    try:
        padded = AESGCM(dek).decrypt(blob[:12], blob[12:], aad)
    except InvalidTag:
        raise SealError("sealed value does not match its event and field, or was altered") from None
    return padded.rstrip(b"\0")[:-1].decode()


def _pad(raw: bytes) -> bytes:
    raw += b"\x80"
    return raw + b"\0" * (-len(raw) % PAD_TO)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX) and value.count(":") == 3


def key_id_of(token: str) -> str:
    return token.split(":", 3)[2]


def aad_for(event_id: UUID | str, location: tuple[str | int, ...]) -> bytes:
    """The associated data: the event and the top-level field (the same for names and
    free text, so a value keeps opening whatever kind a later schema gives it)."""
    return f"saylau.personal.v1|{event_id}|{location[0]}".encode()


Location = tuple[str | int, ...]


def personal_strings(event_type: str, payload: Any, version: int | None = None,
                     cat: Catalogue | None = None) -> Iterator[tuple[Location, str]]:
    """Every string naming a person in ``payload`` with its location."""
    for path in (cat or catalogue()).personal_paths(event_type, version):
        yield from strings_at(payload, path)


def free_text_strings(event_type: str, payload: Any, version: int | None = None,
                      cat: Catalogue | None = None) -> Iterator[tuple[Location, str]]:
    """Every free-text string in ``payload`` with its location."""
    for path in (cat or catalogue()).free_text_paths(event_type, version):
        yield from strings_at(payload, path)


def sealed_strings(event_type: str, payload: Any, version: int | None = None,
                   cat: Catalogue | None = None) -> Iterator[tuple[Location, str, bool]]:
    """Every string sealing covers, with its location and whether it is a name."""
    for location, value in personal_strings(event_type, payload, version, cat):
        yield location, value, True
    for location, value in free_text_strings(event_type, payload, version, cat):
        yield location, value, False


def seals(event_type: str, version: int | None = None, cat: Catalogue | None = None) -> bool:
    """Whether payloads of this type hold anything to seal."""
    found = cat or catalogue()
    return bool(found.personal_paths(event_type, version)
                or found.free_text_paths(event_type, version))


def encrypt_personal(event_type: str, payload: dict[str, Any], keyring: Keyring, *,
                     event_id: UUID | str, version: int | None = None,
                     cat: Catalogue | None = None) -> dict[str, Any]:
    """``payload`` with every name and free text sealed under a new data key each (issued
    into ``keyring.issued``, which the caller stores before appending the event)."""
    if not seals(event_type, version, cat):
        return payload
    sealed = _copy(payload)
    for location, value, is_name in list(sealed_strings(event_type, sealed, version, cat)):
        replace_at(sealed, location, seal(value, keyring.issue(value, indexed=is_name),
                                          aad_for(event_id, location)))
    return sealed


def sealed_key_ids(event_type: str, payload: Any, version: int | None = None,
                   cat: Catalogue | None = None) -> set[str]:
    """The data keys ``decrypt_personal`` will need for ``payload``."""
    return {key_id_of(value) for _, value, _ in sealed_strings(event_type, payload, version, cat)
            if is_sealed(value)}


def decrypt_personal(event_type: str, payload: dict[str, Any], keyring: Keyring, *,
                     event_id: UUID | str, version: int | None = None,
                     erased_marker: str = ERASED, cat: Catalogue | None = None
                     ) -> dict[str, Any]:
    """``payload`` with sealed values opened; ``erased_marker`` where the key was destroyed.
    Plain values (events appended before sealing existed) are returned as they are."""
    if not seals(event_type, version, cat):
        return payload
    opened = _copy(payload)
    for location, value, _ in list(sealed_strings(event_type, opened, version, cat)):
        if is_sealed(value):
            dek = keyring.key(key_id_of(value))
            plain = erased_marker if dek is None else open_sealed(
                value, dek, aad_for(event_id, location))
            replace_at(opened, location, plain)
    return opened


def open_value(value: str, keyring: Keyring, *, event_id: UUID | str, field: str,
               erased_marker: str = ERASED) -> str:
    """One value kept in a read model (e.g. an observer's ``name``), opened: ``field`` is the
    top-level payload field and ``event_id`` the event that carried it."""
    if not is_sealed(value):
        return value
    dek = keyring.key(key_id_of(value))
    return erased_marker if dek is None else open_sealed(value, dek, aad_for(event_id, (field,)))


def redact_personal(event_type: str, payload: dict[str, Any], version: int | None = None,
                    cat: Catalogue | None = None) -> dict[str, Any]:
    """``payload`` as read-only scopes see it: each field holding names is ``"[redacted]"``
    (a head count stays), each free text ``"[text withheld]"`` where it stood."""
    if not seals(event_type, version, cat):
        return payload
    redacted = _copy(payload)
    for location, _ in list(free_text_strings(event_type, redacted, version, cat)):
        replace_at(redacted, location, TEXT_WITHHELD)
    for path in (cat or catalogue()).personal_paths(event_type, version):
        if isinstance(redacted.get(path[0]), (str, list)):
            redacted[path[0]] = REDACTED
    return redacted


def _copy(payload: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON data (several times faster than ``copy.deepcopy``)."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(payload))
    return copied


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise SealError("sealed value is not base64url") from None
