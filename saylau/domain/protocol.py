"""Result protocols whose figures contradict each other: alerts, from the protocol alone.

A protocol's own arithmetic must hold whatever else is known: every ballot found in the
boxes is either a vote for someone or invalid, no more ballots can be issued than there are
voters on the list, and no more can be found in the boxes than were issued (the difference
is the classic trace of ballot stuffing, seed 003).
"""
from __future__ import annotations

from saylau.domain.breach import Case, Finding, RuleConfig


def protocol_contradictions(case: Case, config: RuleConfig) -> list[Finding]:
    """Each figure of ``protocol.reported`` that does not add up, as a monitoring alert."""
    p = case.payload
    counted = sum(p["votes"].values()) + p["invalid_ballots"]
    found = []
    if counted != p["ballots_cast"]:
        found.append(Finding("protocol.votes_do_not_add_up", "high",
                             f"Protocol: votes plus invalid ballots ({counted}) differ from "
                             f"ballots cast ({p['ballots_cast']})", None, kind="alert"))
    if p["ballots_issued"] > p["voters_on_list"]:
        found.append(Finding("protocol.issued_exceeds_list", "high",
                             f"Protocol: {p['ballots_issued']} ballots issued to "
                             f"{p['voters_on_list']} voters on the list", None, kind="alert"))
    if p["ballots_cast"] > p["ballots_issued"]:
        found.append(Finding("protocol.cast_exceeds_issued", "critical",
                             f"Protocol: {p['ballots_cast']} ballots in the boxes but only "
                             f"{p['ballots_issued']} issued", None, kind="alert"))
    return found
