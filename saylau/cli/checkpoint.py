"""``saylau checkpoint``: sign the log's heads with the operator key and publish them."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from saylau.audit.anchors import (
    NoKey,
    append_checkpoint,
    new_key_pem,
    public_pem,
    signing_key,
    take_checkpoint,
)
from saylau.cli.status import fail
from saylau.log.checkpoint import key_id, public_key_hex
from saylau.settings import settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "checkpoint", help="sign the log's chain heads (a chain anchor) and publish them",
        description="Read each partition's end offset and last chain link, sign them with the "
                    "operator's Ed25519 key (SAYLAU_CHECKPOINT_KEY_FILE), print the checkpoint "
                    "as one JSON line, append it to --output and to the log as a "
                    "chain.checkpointed event. 'saylau verify --checkpoints FILE' proves the "
                    "log still holds everything up to each checkpoint.")
    p.add_argument("--topic", default=None, help="events topic (default: EVENTS_TOPIC)")
    p.add_argument("-o", "--output", type=Path, help="JSON-lines file to append the checkpoint to")
    p.add_argument("--no-append", action="store_true",
                   help="do not append the checkpoint to the log")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--new-key", action="store_true",
                      help="create the operator key at SAYLAU_CHECKPOINT_KEY_FILE and print "
                           "its public key (refuses to overwrite)")
    keys.add_argument("--public-key", action="store_true",
                      help="print the operator's public key (hex and PEM) to publish")
    p.set_defaults(run=run_checkpoint)


async def run_checkpoint(args: argparse.Namespace) -> int:
    cfg = settings()
    if args.new_key:
        return create_key(cfg.saylau_checkpoint_key_file)
    try:
        key = signing_key(cfg)
    except NoKey as exc:
        return fail(str(exc))
    if args.public_key:
        print(f"{public_key_hex(key)}  (key id {key_id(public_key_hex(key))})\n{public_pem(key)}",
              end="")
        return 0
    topic = args.topic or cfg.events_topic
    try:
        checkpoint = await take_checkpoint(cfg, topic, key)
    except LookupError as exc:
        return fail(str(exc))
    line = orjson.dumps(checkpoint) + b"\n"
    if args.output:
        with args.output.open("ab") as out:
            out.write(line)
    sys.stdout.buffer.write(line)
    sys.stdout.flush()
    marks = ", ".join(f"{p['partition']}:{p['offset']}" for p in checkpoint["partitions"])
    print(f"checkpoint of {topic} signed by key {key_id(checkpoint['public_key'])}: {marks}",
          file=sys.stderr)
    if not args.no_append:
        partition, offset = await append_checkpoint(cfg, topic, checkpoint)
        print(f"appended as chain.checkpointed at partition {partition} offset {offset}",
              file=sys.stderr)
    return 0


def create_key(path: str) -> int:
    if not path:
        return fail("set SAYLAU_CHECKPOINT_KEY_FILE to where the key should be written")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return fail(f"{path} exists; not overwriting an operator key")
    with os.fdopen(fd, "wb") as out:
        out.write(new_key_pem())
    cfg_key = signing_key(settings().model_copy(update={"saylau_checkpoint_key": "",
                                                        "saylau_checkpoint_key_file": path}))
    print(f"wrote {path}; publish the public key:\n{public_key_hex(cfg_key)}\n"
          f"{public_pem(cfg_key)}", end="")
    return 0
