"""Checklist definitions: answers checked against their version, violations on both sides."""
from __future__ import annotations

from typing import Any

import pytest

from saylau.domain.checklists import ChecklistBook, Question, checklist_book

OPENING_OK = {"observers_admitted": "all", "ballot_box_sealed": True,
              "voter_list_available": True, "commission_members_present": 7}


def submitted(answers: dict[str, Any], checklist: str = "opening",
              version: int = 1) -> dict[str, Any]:
    return {"checklist_id": checklist, "version": version, "answers": answers}


def test_shipped_definitions_load_with_three_phases() -> None:
    book = checklist_book()
    assert {c.phase for c in book.checklists.values()} == {"opening", "voting", "closing"}


def test_a_clean_checklist_has_no_errors_and_no_violations() -> None:
    assert checklist_book().errors(submitted(OPENING_OK)) == []
    assert checklist_book().violation_types(submitted(OPENING_OK)) == []


def test_box_not_sealed_is_a_violation_of_the_opening_checklist() -> None:
    answers = {**OPENING_OK, "ballot_box_sealed": False}
    assert checklist_book().violation_types(submitted(answers)) == [
        "checklist.violation:opening.ballot_box_sealed"]


@pytest.mark.parametrize(("members", "violated"), [(4, True), (5, False), (50, False)])
def test_too_few_commission_members_is_below_five(members: int, violated: bool) -> None:
    answers = {**OPENING_OK, "commission_members_present": members}
    found = checklist_book().violation_types(submitted(answers))
    assert found == (["checklist.violation:opening.commission_members_present"]
                     if violated else [])


@pytest.mark.parametrize(("persons", "violated"), [(0, False), (1, True)])
def test_any_unauthorised_person_is_above_zero(persons: int, violated: bool) -> None:
    question = Question("unauthorised_persons", "integer", "?", violation_above=0)
    assert question.violated(persons) is violated


@pytest.mark.parametrize(("answer", "violated"), [("all", False), ("some", True),
                                                  ("none", True)])
def test_choice_violations(answer: str, violated: bool) -> None:
    answers = {**OPENING_OK, "observers_admitted": answer}
    assert bool(checklist_book().violation_types(submitted(answers))) is violated


@pytest.mark.parametrize(("answers", "loc", "words"), [
    ({**OPENING_OK, "box_colour": "red"}, ("answers", "box_colour"), "no question"),
    ({k: v for k, v in OPENING_OK.items() if k != "ballot_box_sealed"},
     ("answers", "ballot_box_sealed"), "answer required"),
    ({**OPENING_OK, "ballot_box_sealed": "no"}, ("answers", "ballot_box_sealed"), "true or false"),
    ({**OPENING_OK, "observers_admitted": "most"}, ("answers", "observers_admitted"),
     "one of all, some, none"),
    ({**OPENING_OK, "commission_members_present": 51}, ("answers", "commission_members_present"),
     "at most 50"),
    ({**OPENING_OK, "commission_members_present": True},
     ("answers", "commission_members_present"), "whole number"),
])
def test_errors_name_the_question(answers: dict[str, Any], loc: tuple[str, ...],
                                  words: str) -> None:
    [(where, message)] = checklist_book().errors(submitted(answers))
    assert where == loc and words in message


def test_optional_question_may_be_left_out_but_is_judged_when_answered() -> None:
    book = checklist_book()
    assert book.errors(submitted(OPENING_OK)) == []
    late = submitted({**OPENING_OK, "opened_on_time": False})
    assert book.violation_types(late) == ["checklist.violation:opening.opened_on_time"]


def test_unknown_checklist_or_version_is_an_error_and_no_violation() -> None:
    book = checklist_book()
    [(loc, message)] = book.errors(submitted(OPENING_OK, version=9))
    assert loc == ("checklist_id",) and "opening v1" in message
    assert book.violation_types(submitted(OPENING_OK, version=9)) == []


def test_a_false_answer_is_not_mistaken_for_zero() -> None:
    question = Question("q", "integer", "?", violation_equals=(0,))
    assert question.violated(0) and not question.violated(False)


def test_file_name_must_match_id_and_version(tmp_path: Any) -> None:
    (tmp_path / "opening.v2.json").write_text(
        '{"id": "opening", "version": 1, "phase": "opening", "title": "t", "questions": []}')
    with pytest.raises(ValueError, match="file name"):
        ChecklistBook.load(tmp_path)
