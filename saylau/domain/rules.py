"""Breach rules: which events break which provision of law, or need a monitoring alert.

Pure functions of one event, the calendars and the configuration; no clock, no I/O. Rules
that depend on the campaign calendar compare the event's local wall-clock time (in the zone
of its region) with the election's calendar; an event whose election cannot be determined
gets none of them, but still gets the rules that hold whatever the date.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from saylau.domain import legal
from saylau.domain.breach import (
    Breach,
    Case,
    Finding,
    Rule,
    RuleConfig,
    Severity,
    as_breach,
    detention_surge,
    surge_bucket_start,
    withdrawn_by,
    withdrawn_event_id,
)
from saylau.domain.calendar import Calendars
from saylau.domain.legal import LegalRef
from saylau.domain.protocol import protocol_contradictions
from saylau.domain.upcasters import upcast
from saylau.envelope import Envelope

__all__ = ["RULES", "Breach", "LegalRef", "RuleConfig", "breaches", "detention_surge",
           "surge_bucket_start", "withdrawn_by", "withdrawn_event_id"]

MIN_POLLSTER_YEARS = 5


def campaigning_while_prohibited(case: Case, config: RuleConfig) -> list[Finding]:
    """Campaigning before the campaign opens or after it closes: Art. 102 CAO.

    Before the period: from the announcement until campaign_start (in 2023, 18:00 on
    18 February; six Mazhilis candidates were fined and de-registered for it, seed 004).
    After it: from the end of campaigning through voting day (Elections Law Art. 32).
    """
    if (election := case.election) is None:
        return []
    moment = case.local_time(election)
    if election.announced <= moment < election.campaign_start:
        return [Finding("campaigning.before_period", "medium",
                        "Campaigning before the campaign period opened",
                        legal.CAMPAIGNING_WHILE_PROHIBITED)]
    if election.campaign_end <= moment < election.silence_end:
        return [Finding("campaigning.during_silence", "medium",
                        "Campaigning on the silence day or voting day",
                        legal.CAMPAIGNING_WHILE_PROHIBITED)]
    return []


def poll_during_blackout(case: Case, config: RuleConfig) -> list[Finding]:
    """Poll results published in the five days before voting or on voting day: Art. 28 §9."""
    if (election := case.election) is None:
        return []
    moment = case.local_time(election)
    if not election.poll_blackout_start <= moment < election.poll_blackout_end:
        return []
    return [Finding("poll.during_blackout", "medium",
                    "Election poll published during the pre-election blackout",
                    legal.POLL_DURING_BLACKOUT)]


def pollster_shortcomings(payload: Mapping[str, Any]) -> list[str]:
    """Why a pollster may not run election polls (Elections Law Art. 28 §9); empty if it may."""
    if payload["publisher_kind"] == "individual":
        return ["run by an individual, not a legal entity"]
    reasons = []
    if payload.get("years_experience", 0) < MIN_POLLSTER_YEARS:
        reasons.append(f"less than {MIN_POLLSTER_YEARS} years' polling experience")
    if not payload.get("commission_notified", False):
        reasons.append("the Central Election Commission was not notified")
    return reasons


def poll_by_unqualified_pollster(case: Case, config: RuleConfig) -> list[Finding]:
    """A poll by someone Art. 28 §9 does not allow to poll, during the campaign and voting.

    The article sits in the chapter on campaigning, so it is applied from campaign_start
    (seed 001: how far back it reaches before that is disputed) until the blackout ends.
    """
    if (election := case.election) is None:
        return []
    moment = case.local_time(election)
    reasons = pollster_shortcomings(case.payload)
    if not reasons or not election.campaign_start <= moment < election.poll_blackout_end:
        return []
    return [Finding("poll.unqualified_pollster", "low",
                    "Election poll " + "; ".join(reasons), legal.POLL_BY_UNQUALIFIED_POLLSTER)]


def deregistration_too_late(case: Case, config: RuleConfig) -> list[Finding]:
    """Registration cancelled in the last two days before voting: Elections Law Art. 89 §4-3."""
    if (election := case.election) is None:
        return []
    if case.local_time(election) < election.deregistration_closed_from:
        return []
    return [Finding("candidate.deregistered_too_late", "high",
                    "Candidate de-registered after de-registration closed",
                    legal.DEREGISTRATION_TOO_LATE)]


def observers_kept_out(case: Case, config: RuleConfig) -> list[Finding]:
    """Observers refused entry or expelled while entitled to be present: Arts. 20-1, 20-2.

    They may be there from the start of the commission's work on voting day (06:00; seed 003
    on station No. 660) until the count protocol is signed (modelled as observation_ends).
    """
    if (election := case.election) is None:
        return []
    moment = case.local_time(election)
    if not election.observers_admitted_from <= moment < election.observation_ends:
        return []
    if case.event.type == "observer.expelled":
        return [Finding("observer.expelled", "high",
                        "Observers expelled from a polling station during observation hours",
                        legal.OBSERVERS_KEPT_OUT)]
    return [Finding("observer.refused_entry", "high",
                    "Observers refused entry to a polling station during observation hours",
                    legal.OBSERVERS_KEPT_OUT)]


def kettled_in_the_cold(case: Case, config: RuleConfig) -> list[Finding]:
    """Alert: protesters held in a cordon for ``kettling_max_hours`` or more below freezing.

    In Almaty in 2021 people were kettled for five and nine hours at 0 to -10 °C and two were
    hospitalised with frostbite (seed 003). An ongoing kettle (no ended_at) is not judged yet.
    """
    payload = case.payload
    if "ended_at" not in payload or "air_temperature_c" not in payload:
        return []
    held = datetime.fromisoformat(payload["ended_at"]) - datetime.fromisoformat(
        payload["started_at"])
    hours = held.total_seconds() / 3600
    if hours < config.kettling_max_hours or payload["air_temperature_c"] >= (
            config.kettling_max_temp_c):
        return []
    return [Finding("protest.kettled_in_cold", "high",
                    f"Protesters kettled for {hours:g} hours at {payload['air_temperature_c']} °C",
                    None, kind="alert")]


def always(rule_id: str, severity: Severity, title: str, ref: LegalRef) -> Rule:
    """A rule broken by the event itself, whatever the date."""
    def rule(case: Case, config: RuleConfig) -> list[Finding]:
        return [Finding(rule_id, severity, title, ref)]
    rule.__doc__ = f"{title}: {ref.code} Art. {ref.article}."
    return rule


RULES: Mapping[str, tuple[Rule, ...]] = {
    "campaigning.observed": (campaigning_while_prohibited,),
    "poll.published": (poll_during_blackout, poll_by_unqualified_pollster),
    "candidate.registration_cancelled": (deregistration_too_late,),
    "observer.access_denied": (observers_kept_out,),
    "observer.expelled": (observers_kept_out,),
    "protest.kettled": (kettled_in_the_cold,),
    "protocol.reported": (protocol_contradictions,),
    "ballot.stuffing_observed": (always(
        "ballot.stuffing", "critical", "Ballot stuffing", legal.BALLOT_STUFFING),),
    "campaign_material.anonymous": (always(
        "campaign_material.anonymous", "low", "Anonymous campaign materials distributed",
        legal.ANONYMOUS_MATERIALS),),
    "campaign_material.damaged": (always(
        "campaign_material.damaged", "low", "Campaign materials damaged",
        legal.MATERIALS_DAMAGED),),
    "campaigning.obstructed": (always(
        "campaigning.obstructed", "medium", "Lawful campaigning obstructed",
        legal.CAMPAIGNING_OBSTRUCTED),),
    "campaigning.inducement": (always(
        "campaigning.inducement", "medium", "Campaigning with free goods or services",
        legal.CAMPAIGNING_WITH_INDUCEMENTS),),
    "campaigning.by_commission_member": (always(
        "campaigning.by_commission_member", "medium",
        "Election commission member campaigning", legal.CAMPAIGNING_BY_COMMISSION_MEMBER),),
    "media.campaign_terms_unreported": (always(
        "media.campaign_terms_unreported", "low",
        "Media outlet did not report its campaign publication terms",
        legal.MEDIA_TERMS_UNREPORTED),),
}


def breaches(event: Envelope, calendars: Calendars, config: RuleConfig) -> list[Breach]:
    """Every breach and alert that ``event`` on its own gives rise to."""
    _, payload = upcast(event.type, event.schema_version, event.payload)
    case = Case(event, payload, calendars.for_event(event.election_id, event.occurred_at))
    return [as_breach(case, found)
            for rule in RULES.get(event.type, ()) for found in rule(case, config)]
