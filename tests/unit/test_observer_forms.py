"""The shared language files and the forms an observer's phone gets."""
from __future__ import annotations

from saylau.catalogue import catalogue
from saylau.domain.checklists import checklist_book
from saylau.web.forms import LANGUAGES, observer_forms, translations, version_of


def test_every_key_exists_in_all_three_languages_and_none_is_empty() -> None:
    words = translations()
    keys = {lang: set(words[lang]) for lang in LANGUAGES}
    every = set().union(*keys.values())
    for lang in LANGUAGES:
        assert every - keys[lang] == set(), f"{lang}.json lacks these keys"
        assert not [k for k, v in words[lang].items() if not v.strip()], f"{lang}: empty"


def test_the_forms_carry_every_label_and_help_in_every_language() -> None:
    forms = observer_forms(catalogue(), checklist_book())
    assert [c["checklist_id"] for c in forms["checklists"]] == ["opening", "voting", "closing"]
    labelled = [c["label"] for c in forms["checklists"]] + [c["help"] for c in forms["checklists"]]
    for checklist in forms["checklists"]:
        labelled += [q["label"] for q in checklist["questions"]]
        labelled += [o["label"] for q in checklist["questions"] for o in q.get("options", ())]
    for incident in forms["incident_types"]:
        labelled += [incident["label"], incident["help"]]
        assert incident["fields"]["title"] == incident["type"]
    assert all(set(label) == set(LANGUAGES) and all(label.values()) for label in labelled)


def test_incident_types_are_the_catalogues_incidents_she_may_post() -> None:
    types = {i["type"] for i in observer_forms(catalogue(), checklist_book())["incident_types"]}
    assert {"ballot.stuffing_observed", "detention.reported", "observer.expelled"} <= types
    assert not types & {"checklist.submitted", "turnout.reported", "observer.arrived",
                        "station.registered", "report.verified"}


def test_the_version_changes_with_her_stations() -> None:
    forms = observer_forms(catalogue(), checklist_book())
    one = [{"station_id": "PS-1", "number": 1}]
    assert version_of(one, forms) == version_of(list(one), forms)
    assert version_of(one, forms) != version_of([*one, {"station_id": "PS-2"}], forms)
