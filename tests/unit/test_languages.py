"""One set of language files for every page (``i18n/``): every key the observer app or the
dashboard names is in them, and a translation keeps the placeholders of the English. That all
three languages have every key, none empty: ``test_observer_forms.py``."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from saylau.web.forms import I18N_DIR

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "services" / "ingest" / "observe", ROOT / "services" / "api" / "static"]
NAMED = re.compile(r"""data-i18n="([\w.]+)"|\bt\(\s*["']([\w.]+)["']""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def labels(lang: str) -> dict[str, str]:
    return json.loads((I18N_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def named_keys() -> set[str]:
    files = [p for folder in PAGES for p in folder.rglob("*") if p.suffix in (".js", ".html")]
    return {a or b for p in files for a, b in NAMED.findall(p.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_translations_keep_the_placeholders_of_the_english(lang: str) -> None:
    english, translated = labels("en"), labels(lang)
    differing = [k for k in english
                 if set(PLACEHOLDER.findall(english[k])) != set(PLACEHOLDER.findall(translated[k]))]
    assert differing == []


def test_every_key_a_page_names_exists() -> None:
    assert sorted(named_keys() - set(labels("en"))) == []


def test_the_labels_checks_from_outside_rely_on() -> None:
    english = labels("en")
    assert english["observe.signin.observer_id"] == "Observer ID"
    assert english["observe.signin.pin"] == "PIN"
    assert english["observe.signin.submit"] == "Sign in"
    assert [english[f"observe.state.{s}"] for s in ("queued", "sent", "rejected")] == [
        "queued", "sent", "rejected"]
