"""Chain anchors: signed checkpoints of the log's heads, so a deleted tail can be proven. Pure.

A hash chain shows an altered, missing or reordered record, but not a deleted *tail*: the
shortened chain is still a valid chain. A checkpoint says, for each partition of the events
topic, how far the log reached (``offset``, the next offset to be written) and the chain link
of its last chained record (``head``), at ``taken_at``; it is signed with the operator's
Ed25519 key over its canonical JSON (every field but ``signature``). Published outside the log
(a JSON-lines file, ``GET /v1/audit/checkpoints``) and appended to the log as a
``chain.checkpointed`` event, it lets ``saylau verify --checkpoints`` prove that the log still
holds everything up to it. Anyone can check a signature with the public key the checkpoint
names and the operator publishes (``openssl pkeyutl -verify -rawin``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from saylau.envelope import canonical
from saylau.log.decode import Message, parse_record

ALGORITHM = "Ed25519"
EVENT_TYPE = "chain.checkpointed"


@dataclass(frozen=True)
class Head:
    """The chain link of the last chained record of a partition, and where it is."""

    offset: int
    chain_id: str
    seq: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "chain_id": self.chain_id, "seq": self.seq,
                "hash": self.hash}


@dataclass(frozen=True)
class Mark:
    """How far one partition reached: ``offset`` is the next offset to be written."""

    partition: int
    offset: int
    head: Head | None

    def as_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "offset": self.offset,
                "head": self.head.as_dict() if self.head else None}


def head_of(message: Message) -> Head | None:
    """The chain link ``message`` carries, or None (not a JSON record, or no link)."""
    record = parse_record(message.value)
    chain = record.get("chain") if record else None
    if not isinstance(chain, dict) or not isinstance(chain.get("seq"), int):
        return None
    return Head(message.offset, str(chain.get("id")), chain["seq"], str(chain.get("hash")))


def marks_of(topic_ends: dict[int, int], tails: dict[int, list[Message]]) -> list[Mark]:
    """A mark per partition: its end offset and the last chained record among its ``tails``."""
    marks = []
    for partition, end in sorted(topic_ends.items()):
        heads = [h for m in tails.get(partition, []) if (h := head_of(m)) is not None]
        marks.append(Mark(partition, end, heads[-1] if heads else None))
    return marks


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def key_id(public_hex: str) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical JSON of every field but ``signature``."""
    return canonical({k: v for k, v in checkpoint.items() if k != "signature"})


def sign(topic: str, taken_at: datetime, marks: list[Mark],
         key: Ed25519PrivateKey) -> dict[str, Any]:
    """A signed checkpoint of ``marks`` (the payload of a ``chain.checkpointed`` event)."""
    body: dict[str, Any] = {"topic": topic, "taken_at": taken_at.isoformat(),
                            "partitions": [m.as_dict() for m in marks],
                            "algorithm": ALGORITHM, "public_key": public_key_hex(key)}
    return {**body, "signature": key.sign(signed_bytes(body)).hex()}


def signature_problem(checkpoint: dict[str, Any], pinned: str | None = None) -> str | None:
    """Why the signature does not hold (None when it does), against the ``pinned`` public key
    (hex) when given, else the key the checkpoint names."""
    named = str(checkpoint.get("public_key", ""))
    if pinned and pinned.lower() != named.lower():
        return f"signed by key {key_id(named) if _hex(named) else '?'}, not the pinned " \
               f"key {key_id(pinned)}"
    if checkpoint.get("algorithm") != ALGORITHM or not _hex(named) or \
            not _hex(str(checkpoint.get("signature", ""))):
        return "not an Ed25519 checkpoint (algorithm, public_key or signature missing)"
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(named)).verify(
            bytes.fromhex(checkpoint["signature"]), signed_bytes(checkpoint))
    except (InvalidSignature, ValueError):
        return "signature does not match the checkpoint (altered or forged)"
    return None


def _hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)


def marks_in(checkpoint: dict[str, Any]) -> list[Mark]:
    """The marks of a (parsed) checkpoint."""
    marks = []
    for p in checkpoint.get("partitions", []):
        h = p.get("head")
        head = Head(int(h["offset"]), str(h["chain_id"]), int(h["seq"]), str(h["hash"])) \
            if h else None
        marks.append(Mark(int(p["partition"]), int(p["offset"]), head))
    return marks
