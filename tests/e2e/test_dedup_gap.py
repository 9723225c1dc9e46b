"""PostgreSQL fails after the broker acknowledged a report (issue 29 item 4).

Ingest answers 202 once Kafka has the record, then records the id for dedup; when that insert
fails, a re-send of the same report is appended again. The read models count it once (the
projector drops known ids); ``saylau verify`` and ``saylau export`` report the copy as a
duplicate of the first, so the log and its exports do not pass it off as a second event."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.factories import detention, unique
from tests.stack import Stack, execute_sql, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"


def test_a_resend_after_a_failed_dedup_insert_is_reported_as_a_duplicate(
        own_stack: Stack, tmp_path: Path) -> None:
    stack = own_stack.start()
    schema = stack.env["INGEST_SCHEMA"]
    city = unique()
    report = detention(city, 2)
    execute_sql(f'CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS '
            "$$ BEGIN RAISE EXCEPTION 'PostgreSQL failed after the broker acknowledged'; "
            f'END $$; CREATE TRIGGER refuse BEFORE INSERT ON "{schema}".accepted_events '
            f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse()')
    try:
        assert stack.post(report).status_code == 202
        assert stack.post(report).status_code == 202  # not known: appended a second time
    finally:
        execute_sql(f'DROP TRIGGER refuse ON "{schema}".accepted_events')
    assert stack.post(report).status_code in (200, 202)  # remembered from now on
    wait_until(lambda: (stack.detentions_in(city) or {}).get("detained_total") == 2)

    verified = subprocess.run([str(SAYLAU), "verify"], env=stack.env, capture_output=True,
                              text=True, timeout=300, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr  # the log is intact
    copies = [line for line in verified.stdout.splitlines() if ": duplicate: a copy of" in line]
    assert len(copies) >= 1 and report["event_id"] in copies[0], verified.stdout
    assert "duplicate record(s)" in verified.stdout

    out = tmp_path / "log.ndjson"
    done = subprocess.run([str(SAYLAU), "export", "--output", str(out)], env=stack.env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()[1:]]
    mine = [line for line in lines if line["record"]["event_id"] == report["event_id"]]
    assert len(mine) >= 2
    assert "duplicate_of" not in mine[0]
    assert all(line["duplicate_of"] == {"partition": mine[0]["partition"],
                                        "offset": mine[0]["offset"]} for line in mine[1:])
