"""Silent stations: open for voting, yet nothing heard from them for a while. Pure.

Computed when asked (``GET /v1/coverage``), with the time passed in: a station falls silent
by the clock moving on, not by any event, so no projection could store it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from saylau.domain.calendar import Election

DEFAULT_SILENT_MINUTES = 60


def is_silent(election: Election, region: str | None, last_report_at: datetime | None,
              now: datetime, minutes: int = DEFAULT_SILENT_MINUTES) -> bool:
    """Whether a station of ``region`` is silent at ``now``: voting is open there (the
    calendar's ``stations_open``-``stations_close`` on voting day, local time of the
    region) and nothing came from it for ``minutes``, counting from the later of its last
    report and the opening (so no station is silent in its first ``minutes`` of voting).
    """
    local_now = election.local(now, region)
    closes = datetime.combine(election.voting_day, election.stations_close)
    if not election.voting_opens <= local_now < closes:
        return False
    quiet_since = election.voting_opens
    if last_report_at is not None:
        quiet_since = max(quiet_since, election.local(last_report_at, region))
    return local_now - quiet_since >= timedelta(minutes=minutes)
