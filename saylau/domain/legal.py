"""The provisions the breach rules cite, in plain language.

Article numbers follow the Deputy Prosecutor General's speech of 17 March 2023 (seed 004)
and the KIBHR/IPHR report on the 2021 elections (seed 003). ``ElectionsLaw`` is the
Constitutional Law "On Elections in the Republic of Kazakhstan"; ``CAO`` the Code of
Administrative Offences; ``CC`` the Criminal Code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LegalRef:
    """A provision of law a breach is measured against."""

    code: Literal["CAO", "CC", "ElectionsLaw"]
    article: str
    part: str | None
    text: str


CAMPAIGNING_WHILE_PROHIBITED = LegalRef(
    "CAO", "102", None,
    "Election campaigning while it is prohibited: before the campaign period opens, and on "
    "the silence day and voting day, when any agitation is forbidden (Elections Law Art. 32).",
)
POLL_DURING_BLACKOUT = LegalRef(
    "ElectionsLaw", "28", "9",
    "In the five days before voting and on voting day the media may not publish results of "
    "opinion polls, forecasts of election results or other election research; liability "
    "under CAO Arts. 102 and 120.",
)
POLL_BY_UNQUALIFIED_POLLSTER = LegalRef(
    "ElectionsLaw", "28", "9",
    "Election opinion polls may be conducted only by registered legal entities with at least "
    "five years' experience of polling that have notified the Central Election Commission in "
    "writing beforehand.",
)
DEREGISTRATION_TOO_LATE = LegalRef(
    "ElectionsLaw", "89", "4-3",
    "From two days before voting, a candidate's registration may not be cancelled, nor a "
    "de-registered candidate restored.",
)
ANONYMOUS_MATERIALS = LegalRef(
    "CAO", "113", None,
    "Distributing anonymous campaign materials: without the publisher, place of production, "
    "print run and the funds that paid for them.",
)
MATERIALS_DAMAGED = LegalRef(
    "CAO", "114", None,
    "Destroying or damaging campaign materials.",
)
CAMPAIGNING_OBSTRUCTED = LegalRef(
    "CAO", "103", None,
    "Obstructing a candidate's or party's lawful election campaigning.",
)
CAMPAIGNING_BY_COMMISSION_MEMBER = LegalRef(
    "CAO", "122", "1",
    "Violation of the conditions of election campaigning: members of election commissions "
    "may not campaign.",
)
CAMPAIGNING_WITH_INDUCEMENTS = LegalRef(
    "CAO", "122", "2",
    "Violation of the conditions of election campaigning: campaigning by giving voters free "
    "goods or services (such as free taxi rides or free road works).",
)
MEDIA_TERMS_UNREPORTED = LegalRef(
    "CAO", "112", "5",
    "A media outlet publishing campaign materials must report to the election commission the "
    "payment, conditions and procedure for providing air time or print space (Elections Law "
    "Art. 28 §3).",
)
BALLOT_STUFFING = LegalRef(
    "CC", "151", None,
    "Falsification of electoral documents or an incorrect count of votes: up to four years' "
    "imprisonment.",
)
OBSERVERS_KEPT_OUT = LegalRef(
    "ElectionsLaw", "20-1", None,
    "Observers of parties, accredited public associations and non-profit organisations may be "
    "present at the polling station on voting day from the start of the precinct commission's "
    "work until the count protocol is signed (Arts. 20-1, 20-2); they may record on photo and "
    "video without interfering with the voting.",
)
