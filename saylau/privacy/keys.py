"""The master key and the one interface that wraps data keys with it.

The embedded default is ``LocalMasterKey`` (32 bytes from ``SAYLAU_MASTER_KEY`` or
``SAYLAU_MASTER_KEY_FILE``); a KMS replaces it by implementing ``KeyWrapper``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_AAD = b"saylau.data-key.v1"
INDEX_INFO = b"saylau.blind-index.v1"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed or not the one that wrapped the stored keys."""


class KeyWrapper(Protocol):
    """Wraps data keys; ``key_id`` names the wrapping key (never the key itself)."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, dek: bytes) -> bytes: ...

    def unwrap(self, blob: bytes) -> bytes: ...


class LocalMasterKey:
    """AES-256-GCM key wrapping with a master key held by this process."""

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise MasterKeyError(f"the master key must be 32 bytes, got {len(master)}")
        self._aead = AESGCM(master)
        self._master = master
        self.key_id = "local:" + hashlib.sha256(b"saylau.key-id|" + master).hexdigest()[:16]

    def wrap(self, dek: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, dek, WRAP_AAD)

    def unwrap(self, blob: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], WRAP_AAD)
        except InvalidTag:
            raise MasterKeyError(f"master key {self.key_id} cannot unwrap this data key: "
                                 "wrong or lost master key") from None

    def derive(self, info: bytes = INDEX_INFO) -> bytes:
        """A 32-byte key for another purpose (HKDF-SHA256), e.g. the blind index key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._master)

    def __repr__(self) -> str:
        return f"LocalMasterKey({self.key_id})"


def decode_master_key(text: str) -> bytes:
    """32 bytes from their base64 (standard or url-safe) text."""
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError("the master key is not valid base64") from None
    if len(raw) != 32:
        raise MasterKeyError(f"the master key must decode to 32 bytes, got {len(raw)}")
    return raw


def load_master_key(value: str = "", file: str = "") -> LocalMasterKey:
    """The master key from ``SAYLAU_MASTER_KEY`` (base64) or ``SAYLAU_MASTER_KEY_FILE``.

    Missing is an error, never a silent fallback to plaintext."""
    if value:
        return LocalMasterKey(decode_master_key(value))
    if file:
        path = Path(file)
        if not path.is_file():
            raise MasterKeyError(f"SAYLAU_MASTER_KEY_FILE={file} does not exist: the master "
                                 "key is lost or not mounted; names cannot be encrypted or read")
        return LocalMasterKey(decode_master_key(path.read_text()))
    raise MasterKeyError("no master key: set SAYLAU_MASTER_KEY (base64 of 32 bytes) or "
                         "SAYLAU_MASTER_KEY_FILE (`saylau master-key init` writes a dev key file)")


def new_master_key_text() -> str:
    """A fresh master key as base64 text, for a key file or a secret store."""
    return base64.b64encode(os.urandom(32)).decode()


def write_key_file(path: Path) -> bool:
    """Create a key file readable by its owner only; False if one is already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new_master_key_text() + "\n")
    return True
