"""``saylau`` as a new user meets it: what it says about a key, where its errors go and with
which exit status."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from saylau.cli import main, parser
from saylau.cli.privacy import operator
from saylau.cli.status import Refused
from saylau.web.keys import KeyRing, parse_env_keys


async def test_an_unknown_key_is_called_unknown_not_short_of_a_scope() -> None:
    ring = KeyRing(parse_env_keys("reader:sw_reader:read"), None, "ingest")
    with pytest.raises(Refused) as unknown:
        await operator(ring, "sw_nobody", {"audit", "admin"}, "find")
    assert str(unknown.value).startswith("unknown API key") and "scope" not in str(unknown.value)
    assert unknown.value.status == 2
    with pytest.raises(Refused) as short:
        await operator(ring, "sw_reader", {"audit", "admin"}, "find")
    assert "find needs an API key with the admin or audit scope" in str(short.value)
    assert "'reader' has read" in str(short.value)
    with pytest.raises(Refused, match="needs an API key .* SAYLAU_KEY"):
        await operator(ring, "", {"admin"}, "erase")


def test_cli_errors_go_to_stderr_with_the_documented_status(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "someone", "--scopes", "read,everything"]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.startswith("saylau: unknown scopes: everything")
    stations = tmp_path / "stations.csv"
    stations.write_text("station_id,number\nPS-1,1\n")
    assert main(["stations", "import", str(stations), "--key", "k"]) == 2
    said = capsys.readouterr()
    assert said.out == "" and "saylau: " in said.err and "missing columns: address" in said.err


def every_parser(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [p]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += every_parser(child)
    return found


def test_every_command_documents_the_exit_statuses() -> None:
    parsers = every_parser(parser())
    assert len(parsers) > 20
    for p in parsers:
        text = p.format_help()
        assert "exit status:" in text and "1  a difference or a failed verification" in text \
            and "2  bad usage" in text and "errors are printed on stderr" in text, p.prog
