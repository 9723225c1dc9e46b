"""Finding a person inside free text, for ``saylau find`` and ``saylau erase --name``.

A name has a blind index; a free text has none (an index of a whole text finds nothing, and
one per word would let anyone with the table link texts by the words they share). So the
search opens each sealed text with its data key, which the operator running the command
holds through the master key, and looks for the name in it as words of its own, normalised
like the blind index ("Petrova" finds "PETROVA," but not "Petrovan"). It finds the value:
erasing it erases the whole text, not just the name.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from saylau.catalogue import Catalogue
from saylau.privacy.records import KeySource, Record, envelope_texts
from saylau.privacy.sealing import (
    aad_for,
    free_text_strings,
    is_sealed,
    key_id_of,
    normalise,
    open_sealed,
)


@dataclass
class TextHits:
    """Free texts naming the person: the data keys of sealed ones, and the events whose
    text names them in plaintext (appended before free text was sealed: no key to destroy)."""

    keys: set[str] = field(default_factory=set)
    plaintext: set[str] = field(default_factory=set)

    def add(self, other: TextHits) -> None:
        self.keys |= other.keys
        self.plaintext |= other.plaintext


def free_text_types(cat: Catalogue) -> list[str]:
    """The event types with free text in their payload, in some version."""
    return [t for t in cat.types if cat.free_text_paths(t)]


def naming(names: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for every spelling, matched against normalised text; None for no name."""
    spelled = sorted({normalise(n) for n in names} - {""}, key=len, reverse=True)
    if not spelled:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, spelled)) + r")(?!\w)")


def mentions(text: str, pattern: re.Pattern[str]) -> bool:
    return pattern.search(normalise(text)) is not None


async def texts_naming(records: Sequence[Record], keys: KeySource, names: Sequence[str],
                       cat: Catalogue | None = None) -> TextHits:
    """The free texts in ``records`` (as appended) that name one of ``names``; one key fetch
    for all. An erased text (no key) names nobody any more."""
    pattern, hits = naming(names), TextHits()
    texts = [(r, location, value) for r in records for location, value in
             (*free_text_strings(r["type"], r["payload"], r["schema_version"], cat),
              *envelope_texts(r))]
    if pattern is None or not texts:
        return hits
    keyring = await keys.fill(keys.keyring(), {key_id_of(v) for _, _, v in texts if is_sealed(v)})
    for record, location, value in texts:
        if not is_sealed(value):
            if mentions(value, pattern):
                hits.plaintext.add(str(record["event_id"]))
            continue
        dek = keyring.key(key_id_of(value))
        if dek is not None and mentions(
                open_sealed(value, dek, aad_for(record["event_id"], location)), pattern):
            hits.keys.add(key_id_of(value))
    return hits
