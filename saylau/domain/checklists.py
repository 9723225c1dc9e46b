"""Structured checklists: versioned definitions, answer checks, and which answers are violations.

A definition is ``schemas/checklists/<id>.v<N>.json``: questions with a type (boolean,
integer, choice) and the answers that indicate a violation. Old versions stay, so a
checklist submitted against version 1 is judged by version 1 forever (replay agrees).
Pure: loading the files is the only I/O, as for the election calendars.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

CHECKLIST_DIR = Path(__file__).resolve().parents[2] / "schemas" / "checklists"
VIOLATION_PREFIX = "checklist.violation:"
QuestionType = Literal["boolean", "integer", "choice"]


@dataclass(frozen=True)
class Question:
    """One question; ``violation_*`` say which answers indicate a violation."""

    id: str
    type: QuestionType
    text: str
    required: bool = True
    options: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    violation_equals: tuple[Any, ...] = ()
    violation_below: int | None = None
    violation_above: int | None = None

    def problem(self, answer: Any) -> str | None:
        """Why ``answer`` is not a possible answer to this question; None if it is."""
        if self.type == "boolean":
            return None if isinstance(answer, bool) else "expected true or false"
        if self.type == "choice":
            return None if answer in self.options else f"expected one of {', '.join(self.options)}"
        if not isinstance(answer, int) or isinstance(answer, bool):
            return "expected a whole number"
        if self.minimum is not None and answer < self.minimum:
            return f"expected at least {self.minimum}"
        if self.maximum is not None and answer > self.maximum:
            return f"expected at most {self.maximum}"
        return None

    def violated(self, answer: Any) -> bool:
        """Whether a valid ``answer`` indicates a violation."""
        if any(answer == v and type(answer) is type(v) for v in self.violation_equals):
            return True
        if self.type != "integer":
            return False
        return ((self.violation_below is not None and answer < self.violation_below)
                or (self.violation_above is not None and answer > self.violation_above))


@dataclass(frozen=True)
class Checklist:
    """One version of one checklist."""

    id: str
    version: int
    phase: str
    title: str
    questions: tuple[Question, ...]

    def errors(self, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(question id, problem) for unknown, missing and impossible answers."""
        known = {q.id: q for q in self.questions}
        found = [(qid, f"no question {qid!r} in checklist {self.id} v{self.version}")
                 for qid in answers if qid not in known]
        for q in self.questions:
            if q.id not in answers:
                found += [(q.id, "answer required")] if q.required else []
            elif (problem := q.problem(answers[q.id])) is not None:
                found.append((q.id, problem))
        return found

    def violations(self, answers: Mapping[str, Any]) -> list[str]:
        """Ids of the questions whose (valid) answers indicate a violation, in checklist order."""
        return [q.id for q in self.questions
                if q.id in answers and q.problem(answers[q.id]) is None
                and q.violated(answers[q.id])]


@dataclass(frozen=True)
class ChecklistBook:
    """Every known checklist definition, by (id, version)."""

    checklists: Mapping[tuple[str, int], Checklist]

    def errors(self, payload: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
        """Problems of a ``checklist.submitted`` payload, each with its path in the payload."""
        checklist = self.checklists.get((payload["checklist_id"], payload["version"]))
        if checklist is None:
            wanted = f"{payload['checklist_id']!r} version {payload['version']}"
            return [(("checklist_id",), f"no checklist {wanted}; known: {self.known()}")]
        return [(("answers", qid), msg) for qid, msg in checklist.errors(payload["answers"])]

    def violation_types(self, payload: Mapping[str, Any]) -> list[str]:
        """The incident types a submitted checklist gives rise to (none if it is unknown)."""
        checklist = self.checklists.get((payload["checklist_id"], payload["version"]))
        if checklist is None:
            return []
        return [f"{VIOLATION_PREFIX}{checklist.id}.{qid}"
                for qid in checklist.violations(payload["answers"])]

    def known(self) -> str:
        return ", ".join(f"{i} v{v}" for i, v in sorted(self.checklists)) or "none"

    @classmethod
    def load(cls, directory: Path = CHECKLIST_DIR) -> ChecklistBook:
        """Every ``<id>.v<N>.json`` in ``directory``; the file name must match id and version."""
        found = {}
        for path in sorted(Path(directory).glob("*.v*.json")):
            checklist = parse_checklist(json.loads(path.read_text(encoding="utf-8")))
            if path.name != f"{checklist.id}.v{checklist.version}.json":
                raise ValueError(f"{path.name}: id/version do not match the file name")
            found[(checklist.id, checklist.version)] = checklist
        return cls(found)


def parse_checklist(data: Mapping[str, Any]) -> Checklist:
    """A definition from its JSON form."""
    return Checklist(data["id"], int(data["version"]), data["phase"], data["title"],
                     tuple(parse_question(q) for q in data["questions"]))


def parse_question(data: Mapping[str, Any]) -> Question:
    violation = data.get("violation", {})
    return Question(data["id"], data["type"], data["text"], bool(data.get("required", True)),
                    tuple(data.get("options", ())), data.get("minimum"), data.get("maximum"),
                    tuple(violation.get("equals", ())), violation.get("below"),
                    violation.get("above"))


@lru_cache(maxsize=1)
def checklist_book() -> ChecklistBook:
    """The definitions shipped in ``schemas/checklists``."""
    return ChecklistBook.load()
