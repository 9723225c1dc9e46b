"""The read models, one module each, and the registry that lists them.

``READ_MODELS`` is in write order: the batch transaction folds and writes each in turn. A
read model whose write reads another's rows in the same transaction declares it (``after``:
the quick count reads turnout's standing counts, surges read detentions), and
``in_write_order`` refuses, at import, a registry that lists it too early. ``saylau compare``
checks the tables of the audited ones; ``migrate`` creates all of them. Adding a read model:
a module defining ``READ_MODEL`` (see ``saylau.readmodels.base.ReadModel``), listed here, and
its route.
"""
from __future__ import annotations

from sqlalchemy import Table

from saylau.readmodels import (
    as_of,
    breaches,
    broadcasts,
    changefeed,
    coverage,
    detentions,
    events,
    evidence,
    incidents,
    observers,
    presence,
    quickcount,
    regions,
    registry,
    rollups,
    stations,
    surges,
    timeline,
    tracking,
    triage,
    turnout,
)
from saylau.readmodels.base import ReadModel, in_write_order

READ_MODELS: tuple[ReadModel, ...] = in_write_order(
    events.READ_MODEL, evidence.READ_MODEL, stations.READ_MODEL, detentions.READ_MODEL,
    as_of.READ_MODEL, breaches.READ_MODEL, surges.READ_MODEL, registry.READ_MODEL,
    observers.READ_MODEL, presence.READ_MODEL, broadcasts.READ_MODEL, coverage.READ_MODEL,
    triage.READ_MODEL, incidents.READ_MODEL,
    turnout.READ_MODEL, regions.READ_MODEL, quickcount.READ_MODEL, timeline.READ_MODEL,
    rollups.READ_MODEL, changefeed.READ_MODEL, tracking.READ_MODEL,
)


def audited_tables() -> list[Table]:
    """Tables an audit compares: the projection of the log, nothing about delivery."""
    return [t for m in READ_MODELS if m.audited for t in m.tables]
