"""Who may read and do what, and where. Pure.

A person at the centre signs in with an account that has one role; a machine calls with a
key that has scopes. Either may be bound to regions (canonical names, per
``saylau.domain.regions``): then every read holds only those regions' rows and every action
must point at them. ``Reach`` is that binding; ``None`` regions means the whole country.

| role          | reads                         | names & free text | acts                                  |
|---------------|-------------------------------|-------------------|---------------------------------------|
| `coordinator` | her regions only              | her regions'      | triage, messages to her observers     |
| `analyst`     | the whole country             | no                | nothing                               |
| `auditor`     | the whole country, the audit  | yes               | nothing (what the `audit` scope does) |
| `admin`       | everything                    | yes               | everything                            |

The quick count's estimates are national statistics: national principals only.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "coordinator": frozenset({"read", "triage", "broadcast"}),
    "analyst": frozenset({"read"}),
    "auditor": frozenset({"read", "audit"}),
    "admin": frozenset({"ingest", "read", "audit", "admin", "triage", "broadcast"}),
}
"""What each role's account may do, as the scopes keys already carry (``broadcast``: send
messages to observers)."""
ROLES = tuple(ROLE_SCOPES)
REGIONAL_ROLES = frozenset({"coordinator"})
"""Roles that must name at least one region; the others are national."""
NAME_READERS = frozenset({"coordinator", "auditor", "admin"})
"""Roles that see names and free text (a coordinator: only in her regions' reports)."""


@dataclass(frozen=True)
class Reach:
    """The regions a principal may see and act on; ``regions`` None: the whole country."""

    regions: frozenset[str] | None = None

    @property
    def national(self) -> bool:
        return self.regions is None

    def sees(self, region: str | None) -> bool:
        """Whether a row of ``region`` (canonical; None: an event with no place at all) is
        hers. Placeless rows are national: seen by national principals only."""
        return self.regions is None or (region is not None and region in self.regions)

    def filter(self) -> list[str] | None:
        """The regions to pass to a query (``region = ANY($n)``), None for no filter."""
        return None if self.regions is None else sorted(self.regions)


NATIONAL = Reach()


def reach_of(regions: Iterable[str] | None) -> Reach:
    """A binding from stored regions: empty or None is national."""
    bound = frozenset(r for r in (regions or ()) if r)
    return Reach(bound or None)


def check_account(role: str, regions: Iterable[str]) -> str | None:
    """Why an account of ``role`` bound to ``regions`` cannot exist, or None."""
    listed = [r for r in regions if r]
    if role not in ROLE_SCOPES:
        return f"unknown role {role!r}: one of {', '.join(ROLES)}"
    if role in REGIONAL_ROLES and not listed:
        return f"a {role} needs at least one --region"
    if role not in REGIONAL_ROLES and listed:
        return f"a {role} is national: --region is for coordinators (and keys)"
    return None
