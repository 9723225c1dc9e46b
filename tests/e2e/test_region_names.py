""""Turkestan" and "Turkistan" are one region (issue 31 item 1): reports spelled either way
count in the region the election names, live and in a replay alike; the log keeps what was
sent."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from tests.factories import detention, unique
from tests.stack import Stack, wait_until

SAYLAU = Path(sys.executable).parent / "saylau"


def regions(stack: Stack) -> dict[str, dict[str, int]]:
    return {r["region"]: r for r in stack.get("/v1/regions").json()["regions"]}


def test_two_spellings_of_a_region_count_in_one_and_replay_equals_live(
        own_stack: Stack) -> None:
    stack = own_stack.start()
    city = unique()
    for region, count in (("Turkestan", 2), ("Turkistan", 3), ("Туркестанская область", 4)):
        assert stack.post(detention(city, count, region=region)).status_code == 202
    assert stack.post(detention(unique(), 1, region="Nowhere-Land")).status_code == 202
    wait_until(lambda: regions(stack).get("Turkistan", {}).get("detained_total") == 9)
    seen = regions(stack)
    assert "Turkestan" not in seen and "Туркестанская область" not in seen
    assert seen["Nowhere-Land"]["detained_total"] == 1  # unknown: shown as sent, not merged

    replayed = "replay_" + uuid.uuid4().hex[:8]
    for args in (("replay", "--schema", replayed), ("compare", "--replay", replayed)):
        done = subprocess.run([str(SAYLAU), *args], env=stack.env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "tables equal" in done.stdout and "DIFFERENT" not in done.stdout
