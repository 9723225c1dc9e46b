"""The registry lists every read model once, and every read table belongs to one of them."""
from __future__ import annotations

from collections import defaultdict

import pytest

from saylau.domain.rules import RuleConfig
from saylau.readmodels import READ_MODELS, audited_tables, detentions
from saylau.readmodels.base import Batch, Counted, RegistryOrderError, in_write_order
from saylau.store.ddl import READ, tables_of
from tests.unit.builders import event

CONFIG = RuleConfig()


def test_every_read_table_belongs_to_exactly_one_read_model() -> None:
    owners = [t.name for m in READ_MODELS for t in m.tables]
    assert sorted(owners) == sorted(t.name for t in tables_of(READ))
    assert len({m.name for m in READ_MODELS}) == len(READ_MODELS)


def test_an_audit_compares_the_projection_of_the_log_not_the_delivery() -> None:
    audited = {t.name for t in audited_tables()}
    assert {"events", "city_detentions", "breaches", "triage_actions"} <= audited
    assert not audited & {"projector_offsets", "dead_letters", "changes", "change_cursor"}


def test_the_as_of_tally_is_the_fold_the_projection_keeps() -> None:
    place = {"region": "Almaty", "city": "Almaty"}
    reports = [event("detention.reported", "2021-01-10T11:00:00+06:00", {"count": 5},
                     place=place, key="a"),
               event("detention.released", "2021-01-10T12:00:00+06:00", {"count": 2},
                     place=place, key="b"),
               event("detention.reported", "2021-01-10T12:30:00+06:00", {"count": 1},
                     key="c")]
    folded = detentions.fold(Batch(counted=[Counted(e, 1, ()) for e in reports]), CONFIG)
    tallied: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in reports:
        detentions.tally(tallied, detentions.city_of(e.region, e.city), e.type,
                         e.payload["count"])
    assert dict(folded.city_detentions) == dict(tallied) == {
        ("Almaty", "Almaty"): [5, 2], ("(unknown)", "(unspecified)"): [1, 0]}


def test_the_registry_refuses_a_read_model_listed_before_one_it_reads() -> None:
    by_name = {m.name: m for m in READ_MODELS}
    quickcount, turnout = by_name["quickcount"], by_name["turnout"]
    assert "turnout" in quickcount.after
    with pytest.raises(RegistryOrderError, match="list turnout before quickcount"):
        in_write_order(by_name["events"], by_name["registry"], quickcount, turnout)
    with pytest.raises(RegistryOrderError, match="not registered"):
        in_write_order(by_name["events"], by_name["registry"], quickcount)
    assert in_write_order(*READ_MODELS) == READ_MODELS
