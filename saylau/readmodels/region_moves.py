"""How a batch's writes move the per-region roll-ups (``rollups.region_rollups``). Pure.

A region's roll-up is a sum over rows other read models keep: its stations (those with
incidents, and their reports) and its cities' detentions (people detained, and still held).
The stations and detentions writes learn, in the statement that changes a row, what the row
held before and after; each records here how that moved its region's sums, and the roll-ups
add the batch's moves in one statement. So a batch costs the rows it changed, not a recount of
every station of every region it touched (which grew with the number of stations: the
largest statement of a small batch at 10,000).

A move that cannot be told exactly (a station whose earlier reports named no region, a
station moved to its registry region, or a row another projector worker changed between this
statement's snapshot and its update) asks for a ``recount`` of the regions concerned instead:
the roll-ups then sum them from their tables, under their lock, as they did for every touched
region before.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from saylau.domain.vocabulary import detained_now

SUMS = ("stations_with_incidents", "incidents", "detained_total", "detained_now")
"""The columns of a region's roll-up, in the order of a move."""


@dataclass
class RegionMoves:
    """Per region, how much each sum moved (``SUMS`` order), and the regions to recount."""

    moves: dict[str, list[int]] = field(default_factory=dict)
    recount: set[str] = field(default_factory=set)

    def station(self, region: str | None, total: int, added: int,
                region_before: str | None, seen: bool) -> None:
        """A station now in ``region`` with ``total`` reports, ``added`` by this write (so
        ``total - added`` before it); ``region_before``: the region the statement's snapshot
        read; ``seen``: this write inserted the row, or that snapshot had it. A row that
        names no region counts in none."""
        if region is None:
            return
        before = total - added
        if not seen or (before and region_before != region):
            # another worker inserted or moved it since the snapshot, or its reports so far
            # named no region: what it counted before, and where, is not known here
            self.recount.add(region)
            return
        self._move(region, (total > 0) - (before > 0), added, 0, 0)

    def moved(self, region_before: str | None, region: str) -> None:
        """A station moved to its registry region (registered after its reports named
        another, or registered anew): both regions are recounted."""
        self.recount.update(r for r in (region_before, region) if r is not None)

    def city(self, region: str, detained: int, released: int,
             detained_added: int, released_added: int) -> None:
        """A city's detentions now ``detained`` / ``released``, moved by the added counts."""
        held = detained_now(detained, released) - detained_now(
            detained - detained_added, released - released_added)
        self._move(region, 0, 0, detained_added, held)

    def _move(self, region: str, *sums: int) -> None:
        row = self.moves.setdefault(region, [0, 0, 0, 0])
        for i, d in enumerate(sums):
            row[i] += d

    def regions(self) -> list[str]:
        """The regions whose roll-up rows the batch writes, in key order (the lock order)."""
        return sorted(set(self.moves) | self.recount)


REGION_MOVES: ContextVar[RegionMoves | None] = ContextVar("region_moves", default=None)
"""The batch's region moves, gathered while its stations and detentions are written and
applied once by the roll-ups: set by the store for the length of a batch's writes."""


def gathered() -> RegionMoves:
    """The batch's moves (a throwaway one outside a batch's writes: nothing applies it)."""
    return REGION_MOVES.get() or RegionMoves()
