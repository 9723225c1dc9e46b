"""One name per region, per election. Pure.

Reports spell regions freely: "Turkestan" and "Turkistan", "Nur-Sultan" (the capital's name
in 2021) and "Astana" (in 2023), Cyrillic or Latin. Each election file lists its regions by
the names that election used (``regions``: canonical name → aliases); ``canonical_region``
maps a spelling to that name. It is applied where events are read (decoding, as upcasters
are), so projection and replay agree; the log keeps what was sent. A name the election does
not list is kept as it was sent (shown as such, never merged into a listed region); "Almaty"
is the city of republican significance, "Almaty Region" the region around it.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_SEPARATORS = re.compile(r"[\s\-‐‑–—_.,'’ʼ`]+")


def spelling(name: str) -> str:
    """A name as compared: case, accents' forms, spaces, hyphens and apostrophes ignored."""
    return _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


def alias_index(regions: Mapping[str, list[str]]) -> dict[str, str]:
    """Every spelling of every listed region → its canonical name. Raises ValueError when two
    regions claim one spelling (an election file must not merge two regions)."""
    index: dict[str, str] = {}
    for canonical, aliases in regions.items():
        for name in (canonical, *aliases):
            known = index.setdefault(spelling(name), canonical)
            if known != canonical:
                raise ValueError(f"region spelling {name!r} is listed for both {known!r} and "
                                 f"{canonical!r}")
    return index


def canonical_region(index: Mapping[str, str], name: str) -> str:
    """The canonical name of ``name`` in an election's ``index``; ``name`` itself (stripped)
    when the election does not list it."""
    return index.get(spelling(name), name.strip())


def not_canonical(granted: Iterable[str], canonical: Iterable[str]) -> str | None:
    """Why a grant (an account's or a key's regions) cannot name ``granted``: grants name
    canonical regions only (an alias or an unknown name would bind to nothing), or None."""
    known = sorted(set(canonical))
    for name in granted:
        if name not in known:
            hint = next((c for c in known if spelling(c) == spelling(name)), None)
            return (f"region {name!r} is not a canonical region of any election file"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                    + f"; canonical regions: {', '.join(known)}")
    return None


def station_region(registered: str | None, named: str | None) -> str | None:
    """The region of an event at a polling station: the station's registry entry (the latest
    the log holds before the event), else the region the event names itself (``place``), else
    none (issue 31: an observer's report names only its station). A registry entry wins over
    the report's own place: the registry is the election commission's, a report's place is
    what one observer typed."""
    return registered or named
