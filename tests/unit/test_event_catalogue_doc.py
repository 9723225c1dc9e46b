"""docs/event-catalogue.md is generated from the schemas and rules and must stay in sync."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from saylau.catalogue import Catalogue
from saylau.domain.calendar import Calendars

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_event_catalogue.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_event_catalogue", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalogue_page_is_up_to_date() -> None:
    gen = generator()
    expected = gen.render(Catalogue(), Calendars.load())
    assert gen.DOC.read_text(encoding="utf-8") == expected, (
        "run: .venv/bin/python scripts/gen_event_catalogue.py")


def test_every_type_has_a_row_and_an_example() -> None:
    page = generator().DOC.read_text(encoding="utf-8")
    for type_name in Catalogue().types:
        assert f"| `{type_name}` |" in page and f"### `{type_name}`" in page


def test_every_personal_field_is_named_on_the_page() -> None:
    page = generator().DOC.read_text(encoding="utf-8")
    assert "Personal data (encrypted at ingest, redacted for read-only scopes): " \
           "`persons[].name`" in page
    assert "`journalist`" in page and "`names[]`" in page and "`sender`" in page
