"""``saylau`` as a new user meets it: the shell ``infra/env.sh`` gives it, what it says about a
key, where its errors go and with which exit status."""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from saylau.cli import main, parser
from saylau.cli.privacy import operator
from saylau.cli.status import Refused
from saylau.web.keys import SCOPES, KeyRing, hash_key, parse_env_keys
from tests.stack import ROOT

DEMO_KEY = "sw_demo-key-of-make-up"


def checkout(tmp_path: Path) -> Path:
    """A checkout after ``make up``: env.sh, and the master key and demo key under var/."""
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / "infra" / "env.sh", tmp_path / "infra" / "env.sh")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "master.key").write_text("A" * 43 + "=\n")
    (tmp_path / "var" / "demo-key").write_text(DEMO_KEY + "\n")
    return tmp_path


def sourced(shell: str, where: Path, script: str, **given: str) -> dict[str, str]:
    """The environment after ``script`` (which sources env.sh) in a fresh ``shell``."""
    done = subprocess.run([shell, "-c", f"set -eu; {script}; env"], cwd=where, check=True,
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", **given})
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_env_sh_gives_another_shell_the_master_key_and_the_keys_make_up_gave(
        tmp_path: Path) -> None:
    root = checkout(tmp_path)
    env = sourced("sh", root, ". infra/env.sh; . infra/env.sh")  # twice: still once
    assert env["SAYLAU_MASTER_KEY_FILE"] == str(root / "var" / "master.key")
    assert env["SAYLAU_API_KEYS"] == f"demo:{DEMO_KEY}"
    demo = parse_env_keys(env["SAYLAU_API_KEYS"])[hash_key(DEMO_KEY)]
    assert demo.partner == "demo" and demo.scopes == frozenset(SCOPES)
    elsewhere = sourced("bash", Path("/"), f". {root}/infra/env.sh")  # bash: from anywhere
    assert elsewhere["SAYLAU_MASTER_KEY_FILE"] == str(root / "var" / "master.key")


def test_env_sh_keeps_what_the_user_set(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    env = sourced("sh", root, ". infra/env.sh", SAYLAU_MASTER_KEY="B" * 43 + "=",
                  SAYLAU_API_KEYS="partner:sw_theirs:read")
    assert "SAYLAU_MASTER_KEY_FILE" not in env
    assert env["SAYLAU_API_KEYS"] == f"partner:sw_theirs:read,demo:{DEMO_KEY}"
    (root / "var" / "master.key").unlink()
    (root / "var" / "demo-key").unlink()
    bare = sourced("sh", root, ". infra/env.sh")  # before the first make up: nothing to add
    assert "SAYLAU_MASTER_KEY_FILE" not in bare and "SAYLAU_API_KEYS" not in bare


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
