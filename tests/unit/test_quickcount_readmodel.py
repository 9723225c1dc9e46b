"""The quick-count read model's pure parts: the API view, the alert, the sample event and the
registry as the log held it when a sample was drawn."""
from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from saylau.catalogue import Catalogue
from saylau.cli.quickcount import Logged, registry_before
from saylau.domain.quickcount import (
    FrameStation,
    OfficialFigure,
    StationProtocol,
    StationTurnout,
    draw_sample,
    t_value,
    z_value,
)
from saylau.intake.validation import validate_item
from saylau.readmodels.quickcount import Inputs, Official, alerts, view
from services.ingest.routes.quickcount import sample_event
from tests.unit.test_intake import FakePool, FakeProducer, intake

AT = datetime(2021, 1, 10, 6, 0, tzinfo=UTC)
FRAME = [FrameStation(f"{r}-{i:02d}", r, 1000 + 10 * i) for r in ("North", "South")
         for i in range(30)]
SAMPLE = draw_sample(FRAME, 20, 7, election_id="kz-2021-01-10", drawn_at=AT)
LEVEL = {"North": 0.40, "South": 0.50}


def inputs(*official: Official) -> Inputs:
    voters = {s.station_id: round(s.registered_voters * (LEVEL[s.region] + (i % 5) / 100))
              for i, s in enumerate(FRAME)}
    registered = {s.station_id: s.registered_voters for s in FRAME}
    ids = SAMPLE.station_ids
    return Inputs(SAMPLE, "e-sample",
                  [StationTurnout(s, registered[s], voters[s]) for s in ids],
                  [StationProtocol(s, {"A": voters[s] // 2, "B": voters[s] - voters[s] // 2})
                   for s in ids], list(official))


def national(turnout: float) -> Official:
    return Official(OfficialFigure("national", turnout, "CEC"), "e-official", AT)


def test_the_view_has_the_issues_shape() -> None:
    out = view("kz-2021-01-10", inputs(national(45.0)), 0.95)
    assert {"election_id", "sample", "turnout", "shares", "regions", "official",
            "discrepancies"} <= set(out)
    assert out["election_id"] == "kz-2021-01-10" and out["sample"]["stations"] == 20
    assert out["sample"]["reported"] == 20 and out["sample"]["sample_id"] == SAMPLE.sample_id
    assert set(out["turnout"]) == {"estimate", "ci_low", "ci_high", "confidence"}
    assert out["turnout"]["ci_low"] < out["turnout"]["estimate"] < out["turnout"]["ci_high"]
    assert set(out["shares"]) == {"A", "B"}
    assert set(out["shares"]["A"]) == {"estimate", "ci_low", "ci_high"}
    assert [r["region"] for r in out["regions"]] == ["North", "South"]
    assert {"region", "reported", "turnout"} <= set(out["regions"][0])
    assert out["official"] == {"turnout": 45.0, "shares": {}, "source": "CEC"}


def test_early_hourly_figures_are_shown_apart_from_final_ones() -> None:
    full = inputs(national(45.0))
    early = {s for s in SAMPLE.station_ids[::4]}
    out = view("kz-2021-01-10", Inputs(full.sample, full.sample_event_id, [
        StationTurnout(t.station_id, t.registered_voters, t.voters, final=t.station_id not in early)
        for t in full.turnout], full.protocols[:0], full.official), 0.95)
    assert (out["sample"]["reported"], out["sample"]["final"], out["sample"]["hourly"]) == (
        20, 20 - len(early), len(early))
    assert sum(r["final"] for r in out["regions"]) == 20 - len(early)
    assert sum(r["reported"] for r in out["regions"]) == 20


def test_the_answer_names_the_strata_the_national_check_waits_for() -> None:
    full = inputs(national(45.0))
    north = {s for s in SAMPLE.station_ids if s.startswith("North")}
    out = view("kz-2021-01-10", Inputs(
        full.sample, full.sample_event_id, [t for t in full.turnout if t.station_id in north],
        full.protocols, full.official), 0.95)
    assert out["national_check"] == {
        "turnout": {"ready": False, "reported": len(north), "sampled": 20,
                    "strata_without_reports": ["South"]},
        "shares": {"ready": True, "reported": 20, "sampled": 20, "strata_without_reports": []}}
    assert view("kz-2021-01-10", full, 0.95)["national_check"]["turnout"] == {
        "ready": True, "reported": 20, "sampled": 20, "strata_without_reports": []}


def test_an_inflated_official_turnout_is_an_alert_with_its_figures() -> None:
    assert alerts(inputs(national(47.0))) == []
    [alert] = alerts(inputs(national(63.3)))
    assert (alert.rule_id, alert.kind, alert.election_id) == (
        "quickcount.discrepancy", "alert", "kz-2021-01-10")
    assert alert.event_ids == ("e-official", "e-sample") and alert.occurred_at == AT
    detail: Any = alert.detail
    assert detail["sample_id"] == SAMPLE.sample_id and detail["official"] == 63.3
    assert detail["ci_low"] < detail["estimate"] < detail["ci_high"] < 63.3
    assert "63.3 %" in alert.title
    assert alerts(inputs(national(63.3)))[0].breach_id == alert.breach_id  # stable id


def test_the_sample_event_is_valid() -> None:
    event = sample_event(SAMPLE)
    checked = validate_item(event, Catalogue(), AT + timedelta(minutes=1))
    assert not isinstance(checked, list), checked
    assert event["event_id"] == SAMPLE.sample_id


def test_ingest_takes_a_sample_from_an_admin_only() -> None:
    """Intake's scope check (the append itself, over HTTP with real keys:
    tests/e2e/test_quickcount.py)."""
    service = intake(FakePool(), FakeProducer())
    others = service.check([sample_event(SAMPLE)], frozenset({"ingest", "read", "audit",
                                                              "triage"}))
    assert [o.code for o in others.refused] == [403] and not others.pending
    assert "admin" in others.refused[0].errors[0].msg
    admitted = service.check([sample_event(SAMPLE)], frozenset({"admin"}))
    assert not admitted.refused and [p.envelope.event_id for p in admitted.pending] == [
        uuid.UUID(SAMPLE.sample_id)]


def record(partition: int, offset: int, received: datetime, station_id: str, region: str,
           voters: int, occurred: str = "2021-01-05T10:00:00+06:00") -> Logged:
    return Logged(partition, offset, received, {
        "type": "station.registered", "station_id": station_id, "event_id": f"e{offset}",
        "occurred_at": occurred, "payload": {"region": region, "registered_voters": voters}})


def test_the_registry_before_a_sample_is_what_the_log_held_then() -> None:
    drawn = Logged(0, 10, AT, {"type": "sample.drawn"})
    later = AT + timedelta(seconds=1)
    frame = registry_before([
        record(0, 3, AT, "A", "North", 100),
        record(0, 11, AT - timedelta(hours=1), "B", "North", 100),  # after it in its partition
        record(1, 50, AT - timedelta(seconds=1), "C", "South", 200),
        record(2, 1, later, "D", "South", 300),  # received after it
        record(1, 51, AT, "C", "South", 250, "2021-01-04T10:00:00+06:00"),  # older fact
    ], drawn)
    assert sorted(frame, key=lambda s: s.station_id) == [
        FrameStation("A", "North", 100), FrameStation("C", "South", 200)]


def test_every_confidence_the_api_accepts_is_computable() -> None:
    """The bounds GET /v1/quickcount documents for ``confidence``: at both ends, every
    quantile the estimate needs is a number (just below 1, ``0.5 + c / 2`` rounds to 1.0)."""
    from services.api.app import create_app
    operation = create_app().openapi()["paths"]["/v1/quickcount"]["get"]
    bounds = next(p for p in operation["parameters"] if p["name"] == "confidence")["schema"]
    highest = bounds.get("maximum", math.nextafter(bounds.get("exclusiveMaximum", 2), 0))
    lowest = bounds.get("minimum", math.nextafter(bounds.get("exclusiveMinimum", -1), 1))
    assert 0 < lowest < 0.5 and 0.99 < highest < 1
    for confidence in (lowest, highest):
        assert math.isfinite(z_value(confidence))
        for df in (1, 2, 3, 30, 199, 200, 201, 100_000):
            assert math.isfinite(t_value(confidence, df))
