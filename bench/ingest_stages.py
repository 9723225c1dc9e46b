"""CPU per event of each Python stage of ingest, in one process, without I/O.

What a batch POST spends per event before and after the engines (``bench/ingest_rate.py``
measures the whole service; this splits its Python work): parse the body, validate the
envelope and payload, the wire form, the dedup fingerprint, sealing personal values, the
content hash, the hash-chain link and canonical record bytes, the answer's JSON.

    .venv/bin/python -m bench.ingest_stages [events]
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import events
from saylau.catalogue import catalogue
from saylau.envelope import Envelope, content_hash
from saylau.intake.outcome import Outcome
from saylau.intake.validation import validate_item
from saylau.log.chain import ChainHead
from saylau.log.decode import compiled
from saylau.privacy.records import dedup_fingerprint, seal_record
from saylau.privacy.sealing import Keyring


def per_event(name: str, items: list[Any], step: Callable[[Any], Any]) -> tuple[str, float, list[Any]]:
    started = time.process_time()
    out = [step(item) for item in items]
    return name, 1e6 * (time.process_time() - started) / len(items), out


def main(n: int) -> None:
    items = events.events(n, 7)
    cat, now, index_key = compiled(catalogue()), datetime.now(UTC), b"k" * 32
    body = orjson.dumps(items)
    figures = []
    started = time.process_time()
    orjson.loads(body)
    figures.append(("parse the JSON body", 1e6 * (time.process_time() - started) / n))
    name, us, envelopes = per_event("validate (envelope + payload schema)", items,
                                    lambda item: validate_item(item, cat, now))
    figures.append((name, us))
    assert all(isinstance(e, Envelope) for e in envelopes)
    name, us, wires = per_event("wire form (model_dump)", envelopes, Envelope.wire)
    figures.append((name, us))
    figures.append(per_event("dedup fingerprint (HMAC)", wires,
                             lambda w: dedup_fingerprint(index_key, w))[:2])
    keyring = Keyring(index_key)
    name, us, sealed = per_event("seal personal values", wires,
                                 lambda w: seal_record(w, keyring, cat))
    figures.append((name, us))
    figures.append(per_event("content hash", sealed, content_hash)[:2])
    head = ChainHead()
    figures.append(per_event("chain link + record bytes", sealed, lambda w: head.sealed_bytes(
        {**w, "received_at": now.isoformat(), "partner": "p", "content_hash": "h"}))[:2])
    outcomes = [Outcome(202, "accepted", str(e.event_id), partition=1, offset=i, warnings=[])
                for i, e in enumerate(envelopes)]
    started = time.process_time()
    orjson.dumps({"results": [{"index": i, "code": o.code, **o.body()}
                              for i, o in enumerate(outcomes)]})
    figures.append(("answer JSON", 1e6 * (time.process_time() - started) / n))
    print(f"ingest Python stages, CPU µs per event ({n:,} events, one process, no I/O)")
    for name, us in figures:
        print(f"  {name:<40} {us:6.1f}")
    print(f"  {'total':<40} {sum(us for _, us in figures):6.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
