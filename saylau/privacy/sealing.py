"""Pure sealing of personal values: encrypt, decrypt, redact, blind-index. No I/O.

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
ERASED = "[erased]"
PAD_TO = 32


class SealError(ValueError):
    """A sealed value that cannot be opened: tampered, moved to another event or field,
    or malformed."""


class UnknownKey(KeyError):
    """A sealed value whose data key was not loaded into the keyring."""


@dataclass(frozen=True)
class DataKey:
    """A fresh data key for one value, with the blind index of the value it seals."""

    key_id: str
    dek: bytes
    blind_index: bytes


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

    def issue(self, value: str) -> DataKey:
        key = DataKey(_b64(os.urandom(16)), AESGCM.generate_key(bit_length=256),
                      blind_index(self.index_key, value))
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
    return f"saylau.personal.v1|{event_id}|{location[0]}".encode()


def personal_strings(event_type: str, payload: Any, version: int | None = None,
                     cat: Catalogue | None = None
                     ) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every personal string in ``payload`` with its location."""
    for path in (cat or catalogue()).personal_paths(event_type, version):
        yield from strings_at(payload, path)


def encrypt_personal(event_type: str, payload: dict[str, Any], keyring: Keyring, *,
                     event_id: UUID | str, version: int | None = None,
                     cat: Catalogue | None = None) -> dict[str, Any]:
    """``payload`` with every personal string sealed under a new data key (issued into
    ``keyring.issued``, which the caller stores before appending the event)."""
    if not (cat or catalogue()).personal_paths(event_type, version):
        return payload
    sealed = _copy(payload)
    for location, value in list(personal_strings(event_type, sealed, version, cat)):
        replace_at(sealed, location, seal(value, keyring.issue(value), aad_for(event_id, location)))
    return sealed


def sealed_key_ids(event_type: str, payload: Any, version: int | None = None,
                   cat: Catalogue | None = None) -> set[str]:
    """The data keys ``decrypt_personal`` will need for ``payload``."""
    return {key_id_of(value) for _, value in personal_strings(event_type, payload, version, cat)
            if is_sealed(value)}


def decrypt_personal(event_type: str, payload: dict[str, Any], keyring: Keyring, *,
                     event_id: UUID | str, version: int | None = None,
                     erased_marker: str = ERASED, cat: Catalogue | None = None
                     ) -> dict[str, Any]:
    """``payload`` with sealed values opened; ``erased_marker`` where the key was destroyed.
    Plain values (events appended before sealing existed) are returned as they are."""
    if not (cat or catalogue()).personal_paths(event_type, version):
        return payload
    opened = _copy(payload)
    for location, value in list(personal_strings(event_type, opened, version, cat)):
        if is_sealed(value):
            dek = keyring.key(key_id_of(value))
            plain = erased_marker if dek is None else open_sealed(
                value, dek, aad_for(event_id, location))
            replace_at(opened, location, plain)
    return opened


def redact_personal(event_type: str, payload: dict[str, Any], version: int | None = None,
                    cat: Catalogue | None = None) -> dict[str, Any]:
    """``payload`` as read-only scopes see it: each field holding names is ``"[redacted]"``
    (a head count stays)."""
    redacted = _copy(payload)
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
