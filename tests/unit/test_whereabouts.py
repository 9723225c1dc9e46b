"""Events with no place of their own belong where the report they point at is (issue 31):
triage actions and reports, evidence files, a message's first report; the live stream and
webhooks of a regional principal hold only her regions' changes. Pure."""
from __future__ import annotations

import uuid

from saylau.catalogue import catalogue
from saylau.domain.checklists import checklist_book
from saylau.domain.roles import reach_of
from saylau.domain.rules import RuleConfig
from saylau.envelope import Envelope
from saylau.log.decode import Decoded, Message
from saylau.outbound.webhooks import Subscription
from saylau.readmodels import events, triage
from saylau.readmodels.base import Batch
from saylau.readmodels.batch import Planner, Targets, event_change
from services.api.live import ChangeFilter
from tests.unit.builders import calendars, event

ALMATY = {"region": "Almaty", "city": "Almaty"}
PLANNER = Planner(catalogue(), calendars(), RuleConfig(), checklist_book())


def applied(*evs: Envelope, actor: str | None = None) -> list[Decoded]:
    return [Decoded(Message(0, i, b"{}"), {"partner": "p", "actor": actor,
                                           "received_at": "2021-01-10T05:06:00+00:00"}, e)
            for i, e in enumerate(evs)]


def about(report: Envelope, type_name: str, minute: int, **payload: object) -> Envelope:
    return event(type_name, f"2021-01-10T11:{minute:02d}:00+06:00",
                 {"event_id": str(report.event_id), **payload})


def plan(*evs: Envelope, targets: Targets | None = None) -> Batch:
    return PLANNER.plan(applied(*evs, actor="user:dana"), targets or {})


def region_column(batch: Batch) -> dict[uuid.UUID, str | None]:
    rows, _ = events.fold(batch, RuleConfig())
    return {row[0]: row[7] for row in rows}


def test_triage_and_evidence_of_a_report_in_the_batch_belong_to_its_region() -> None:
    report = event("detention.reported", "2021-01-10T11:00:00+06:00", {"count": 2},
                   place=ALMATY, station_id="PS-1")
    claim = about(report, "triage.claimed", 1)
    verdict = about(report, "report.verified", 2)
    files = about(report, "evidence.attached", 3)
    batch = plan(report, claim, verdict, files)
    assert set(region_column(batch).values()) == {"Almaty"}
    assert [(c["region"], c["station_id"]) for c in
            (event_change(e, batch) for e in (claim, verdict, files))] == [("Almaty", "PS-1")] * 3


def test_a_triage_action_on_a_stored_report_takes_its_stored_region() -> None:
    stored = event("detention.reported", "2021-01-10T10:00:00+06:00", {"count": 1},
                   station_id="PS-2")
    escalation = about(stored, "triage.escalated", 5, reason="violence")
    batch = plan(escalation, targets={stored.event_id: (stored, "unverified", "Turkestan")})
    assert region_column(batch) == {escalation.event_id: "Turkestan"}
    assert (batch.urgent[0]["region"], batch.urgent[0]["station_id"]) == ("Turkestan", "PS-2")


def test_a_message_belongs_where_its_first_report_is_and_placeless_events_stay_national(
        ) -> None:
    report = event("detention.reported", "2021-01-10T11:00:00+06:00", {"count": 2},
                   place=ALMATY, key="m")
    message = event("message.received", "2021-01-10T11:00:01+06:00", {
        "channel": "sms", "sender": "+77015550123", "text": "DET Almaty 2", "message_id": "m1",
        "event_ids": [str(report.event_id)]})
    unknown = about(event("detention.reported", "2021-01-10T09:00:00+06:00", {"count": 1}),
                    "triage.commented", 7, note="seen")
    placeless = event("internet.disruption", "2021-01-10T11:09:00+06:00", {"kind": "all"})
    regions = region_column(plan(report, message, unknown, placeless))
    assert regions == {report.event_id: "Almaty", message.event_id: "Almaty",
                       unknown.event_id: None, placeless.event_id: None}


def test_the_triage_read_model_keeps_who_did_it() -> None:
    report = event("detention.reported", "2021-01-10T11:00:00+06:00", {"count": 2},
                   place=ALMATY)
    claim = about(report, "triage.claimed", 1, operator="Dana on shift")
    rows = triage.fold(plan(report, claim), RuleConfig())
    assert [a[4:7] for a in rows.actions] == [("p", "user:dana", "Dana on shift")]


def test_a_regional_subscriber_and_webhook_want_only_their_regions_changes() -> None:
    reach = reach_of(["Almaty"])
    changes = [{"cursor": n, "kind": "event", "region": region, "station_id": None}
               for n, region in enumerate(("Almaty", "Karaganda", None), start=1)]
    live = ChangeFilter(reach=reach)
    hook = Subscription(uuid.uuid4(), "https://x", frozenset({"event"}), None, 0, reach)
    assert not live.everything
    assert [c["region"] for c in changes if live.wants(c)] == ["Almaty"]
    assert [c["region"] for c in changes if hook.wants(c)] == ["Almaty"]
    national = Subscription(uuid.uuid4(), "https://x", frozenset({"event"}), None, 0)
    assert [c["region"] for c in changes if national.wants(c)] == ["Almaty", "Karaganda", None]
