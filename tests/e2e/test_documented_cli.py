"""Every ``saylau`` line of the documentation works right after ``make up`` and, in another
shell, ``. infra/env.sh`` (issue 29 item 12), run as a new user runs them: ``scripts/up.sh``
in a fresh checkout (its own empty ``var/``), then each line in a shell that has only what
``infra/env.sh`` gives it (plus the broker, database, names and ports the test gave make up).

A line in a code block must run; an inline ``saylau …`` runs too, unless it is a mention: one
argparse does not accept once its placeholders are filled in (``saylau compare``), or the
start of a longer documented line (``saylau export --decrypt`` of ``… --decrypt --key KEY``);
a mention must name a command that exists. Lines run in ``ORDER`` (what a line needs made first
comes first); a line this test does not know how to order fails it: teach it here."""
from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from saylau.cli import parser
from saylau.cli.demo import DEMO_ACCREDITATION
from saylau.settings import Settings
from tests.stack import ROOT, Stack, free_port, wait_until

pytestmark = pytest.mark.slow
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CODE_LINE = re.compile(r"^\s*(?:\$ )?(?:\.venv/bin/)?saylau (.+)$")
INLINE = re.compile(r"`(?:\.venv/bin/)?saylau ([^`]+)`")
EXPORTED = re.compile(r"^\s*export (SAYLAU_\w+)=(\S+)\s*$", re.MULTILINE)
NAME = "Zhanat Reimov"  # detained in the demo scenario
ELECTION = "kz-2021-01-10"
ORDER = ["--help", "migrate", "topics ensure", "keys create", "keys list", "users add",
         "users list", "users disable", "master-key init",
         "master-key check", "checkpoint --new-key", "checkpoint -o", "checkpoint --public-key",
         "checkpoint", "find", "export --decrypt", "export", "verify", "replay", "compare",
         "audit", "quickcount draw", "quickcount verify-sample", "stations import", "erase",
         "keys revoke", "observers issue-pin", "observers unlock", "rebuild",
         "master-key rotate"]
SKIPPED = {"migrate-log": "needs a second Kafka cluster (tests/faults/test_cluster.py runs it)",
           "demo": "make up runs it"}
REFUSED = {"quickcount draw": "already has sample"}
"""Lines whose right answer is a refusal (exit 2): the demo drew the election's sample."""
STATIONS_CSV = ("station_id,number,address,region,district,city,registered_voters,lat,lon\n"
                'PS-660,660,"School No. 12, 45 Abai St",North Kazakhstan,Petropavlovsk city,'
                "Petropavlovsk,2140,54.8721,69.1431\n")


@dataclass(frozen=True)
class Line:
    text: str
    """The documented arguments after ``saylau``, comment and optional parts dropped."""
    where: str
    inline: bool

    @property
    def step(self) -> str:
        known = [s for s in ORDER if f"{self.text} ".startswith(f"{s} ")]
        return max(known, key=len, default="")


def normalised(arguments: str) -> str:
    arguments = re.split(r"\s+#", arguments, maxsplit=1)[0].rstrip(" \\")
    return " ".join(re.sub(r"\[[^\]]*\]", " ", arguments).split())


def documented() -> list[Line]:
    """Every ``saylau`` line of README.md and docs/, once each."""
    found: dict[str, Line] = {}
    for path in DOCS:
        text, where = path.read_text(), str(path.relative_to(ROOT))
        lines = text.replace("\\\n", " ").splitlines()
        for n, line in enumerate(lines, start=1):
            if match := CODE_LINE.match(line):
                found.setdefault(normalised(match[1]), Line(normalised(match[1]),
                                                            f"{where}:{n}", False))
        for match in INLINE.finditer(text):
            found.setdefault(normalised(match[1]), Line(normalised(match[1]), where, True))
    return sorted(found.values(), key=lambda line: ORDER.index(line.step)
                  if line.step else -1)


@dataclass
class NewUser:
    """A checkout after ``make up``, and what its lines produced for later lines."""

    root: Path
    env: dict[str, str]
    ingest_url: str
    name: str
    """Of the stack's topics and schemas."""
    made: dict[str, str] = field(default_factory=dict)
    ran: set[tuple[str, ...]] = field(default_factory=set)
    replays: list[str] = field(default_factory=list)
    """Replay schemas the lines made (dropped afterwards)."""

    @property
    def replay_x(self) -> str:
        """``replay_x`` of the docs, named after the stack (tests share the database)."""
        return f"replay_x_{self.name}"

    def argv(self, line: Line) -> list[str]:
        words, argv = shlex.split(line.text), []
        for before, word in zip(["", *words], words, strict=False):
            argv.append(self.filled(before, word))
        return argv

    def filled(self, before: str, word: str) -> str:
        key = (self.root / "var" / "demo-key").read_text().strip()  # what make up printed
        by_word = {"KEY": key, "$KEY": key, "$ADMIN_KEY": key, "ADMIN_KEY": key, "$AUDIT_KEY": key,
                   "<partner>": "newsroom", "<key>": self.made.get("key", ""),
                   "<hex>": self.made.get("hex", ""), "SAMPLE_ID": self.made.get("sample", ""),
                   "N|auto": "2", "J": "1", "FILE": "log.ndjson", "FILE.ndjson": "log.ndjson",
                   "FILE.tar": "election-day.tar", "DSR-…": "DSR-1",
                   "PATH": str(self.root / "var" / "another.key"),
                   "NEW": str(self.root / "var" / "another.key"),
                   "replay_20260101120000": self.replays[0] if self.replays else "",
                   "replay_x": self.replay_x,
                   "http://127.0.0.1:8080": self.ingest_url,
                   "TIME": "2021-01-10T00:00:00+06:00",
                   "EVENT_ID": DEMO_ACCREDITATION}  # an event make up's demo appended
        by_option = {"--name": NAME, "--until": "2021-01-10T15:00:00+06:00",
                     "create": "newsroom"}
        if word == "…":
            return by_option[before]
        if word in by_word:
            return by_word[word]
        assert not re.fullmatch(r"<.*>|.*….*|\$\w+|[A-Z_]{3,}", word), \
            f"placeholder {word!r} this test cannot fill: teach it here"
        return word


def mentioned(line: Line, lines: list[Line]) -> bool:
    """``line`` is the start of a longer documented line, which says how to type it."""
    words = line.text.split()
    return any(other.text.split()[:len(words)] == words and other.text != line.text
               for other in lines)


def parses(argv: list[str]) -> bool:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser().parse_args(argv)
        except SystemExit as exc:
            return exc.code == 0  # --help
    return True


def checkout(tmp_path: Path) -> Path:
    """A fresh clone: the repository's files (linked), an installed .venv, no var/."""
    root = tmp_path / "saylau-watch"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("var", ".venv", ".git"):
            (root / entry.name).symlink_to(entry)
    venv = root / ".venv"
    venv.mkdir()
    for entry in (ROOT / ".venv").iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()  # installed: make up goes straight to starting things
    (root / "stations.csv").write_text(STATIONS_CSV)
    return root


def shell_env(root: Path, given: dict[str, str]) -> dict[str, str]:
    """What another shell has after ``. infra/env.sh`` in the checkout."""
    done = subprocess.run(["sh", "-c", ". infra/env.sh && env -0"], cwd=root, env=given,
                          check=True, capture_output=True, text=True, timeout=30)
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)


async def _sample(env: dict[str, str]) -> str | None:
    conn = await asyncpg.connect(Settings(database_url=env["DATABASE_URL"]).dsn)
    try:
        return await conn.fetchval(f'SELECT sample_id FROM "{env["INGEST_SCHEMA"]}".'
                                   "quickcount_draws WHERE election_id = $1", ELECTION)
    finally:
        await conn.close()


@pytest.fixture
def new_user(tmp_path: Path) -> Iterator[NewUser]:
    """``make up`` in a fresh checkout, on its own topics, schemas and ports."""
    stack, root = Stack(), checkout(tmp_path)
    ports = {"INGEST_PORT": str(free_port()), "API_PORT": str(free_port())}
    given = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
             "LANG": "C.UTF-8", **ports,
             **{k: stack.env[k] for k in ("EVENTS_TOPIC", "DEAD_LETTER_TOPIC", "READ_SCHEMA",
                                          "INGEST_SCHEMA", "PROJECTOR_GROUP")},
             "KAFKA_BOOTSTRAP": Settings().kafka_bootstrap,
             "DATABASE_URL": Settings().database_url}
    out, replays = root / "make-up.out", []
    with out.open("wb") as sink:
        stack.procs["make-up"] = [subprocess.Popen(
            ["bash", "scripts/up.sh"], cwd=root, env={**given, "API_WORKERS": "1"},
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)]
    try:
        wait_until(lambda: "Saylau Watch is running" in out.read_text()
                   or stack.procs["make-up"][0].poll() is not None, 180, 0.5)
        assert stack.procs["make-up"][0].poll() is None, out.read_text()
        user = NewUser(root, shell_env(root, given),
                       f"http://127.0.0.1:{ports['INGEST_PORT']}", stack.name, replays=replays)
        user.made["sample"] = wait_until(lambda: asyncio.run(_sample(user.env)), 240, 1.0)
        yield user
    finally:
        stack.stop()
        for schema in replays:
            asyncio.run(_drop(given["DATABASE_URL"], schema))


async def _drop(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(Settings(database_url=dsn).dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def run(user: NewUser, line: Line) -> None:
    argv = user.argv(line)
    if tuple(argv) in user.ran:
        return
    user.ran.add(tuple(argv))
    done = subprocess.run([".venv/bin/saylau", *argv], cwd=user.root, env=user.env,
                          capture_output=True, text=True, timeout=600, check=False)
    said = f"{line.where}: saylau {line.text}\nexit {done.returncode}\n{done.stdout[-3000:]}" \
           f"\n{done.stderr[-3000:]}\n{tail_of_logs(user.root)}"
    refusal = REFUSED.get(line.step)
    if refusal:
        assert done.returncode == 2 and refusal in done.stderr, said
    else:
        assert done.returncode == 0, said
    remember(user, line, argv, done.stdout + done.stderr)


def remember(user: NewUser, line: Line, argv: list[str], said: str) -> None:
    """What later lines need, and what shows the line did its work."""
    if line.step == "keys create":
        user.made["key"] = said.split()[0]
    elif line.step == "checkpoint --public-key":
        user.made["hex"] = said.split()[0]
    elif line.step == "replay" and (made := re.search(r"into schema (\S+)", said)):
        user.replays.append(made[1])
    elif line.step == "find":
        assert re.search(r"\b[1-9]\d* event\(s\)", said), said
    elif line.step == "erase" and NAME in argv:  # the demo's detainee: values to erase
        assert re.search(r"erased [1-9]\d* value\(s\)", said), said
    elif line.step == "erase":  # a name or event of the docs' own examples: none here
        assert re.search(r"erased \d+ value\(s\)", said), said


def tail_of_logs(root: Path) -> str:
    logs = sorted((root / "var" / "log").glob("*.log"))
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)


def test_every_documented_cli_line_works_after_make_up(new_user: NewUser) -> None:
    lines = documented()
    commands = {"--help", *next(a for a in parser()._actions if a.dest == "command").choices}
    unknown = [f"{line.where}: saylau {line.text}" for line in lines
               if line.text.split()[0] not in SKIPPED and not line.step]
    assert not unknown, f"documented lines this test does not know how to run: {unknown}"
    for name, value in EXPORTED.findall("\n".join(p.read_text() for p in DOCS)):
        new_user.env[name] = str(new_user.root / "var" / Path(value).name)
    ran = 0
    for line in lines:
        assert line.text.split()[0] in commands, f"{line.where}: no command saylau {line.text}"
        if line.text.split()[0] in SKIPPED:
            continue
        if line.inline and (not parses(new_user.argv(line)) or mentioned(line, lines)):
            continue  # a mention of a command or an option, not a line to type
        run(new_user, line)
        ran += 1
    assert ran >= 25 and {"find", "erase", "keys create", "verify"} <= {
        line.step for line in lines}

