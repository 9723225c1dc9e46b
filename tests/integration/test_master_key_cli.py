"""``saylau master-key``: init a key file, check it, rotate to a new one; a lost key fails."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SAYLAU = Path(sys.executable).parent / "saylau"


def saylau(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAYLAU), *args], check=False, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_init_check_rotate_and_lost_key(tmp_path: Path, ingest_schema: str) -> None:
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    env = {"INGEST_SCHEMA": ingest_schema, "SAYLAU_MASTER_KEY_FILE": str(old),
           "SAYLAU_MASTER_KEY": ""}
    assert "wrote" in saylau(env, "master-key", "init").stdout
    assert saylau(env, "master-key", "check").returncode == 0
    assert saylau(env, "master-key", "init", "--file", str(new)).returncode == 0
    rotated = saylau(env, "master-key", "rotate", "--new-file", str(new))
    assert rotated.returncode == 0 and "re-wrapped 0 data keys and the index key" in rotated.stdout
    stale = saylau(env, "master-key", "check")
    assert stale.returncode == 1 and "not by the configured master key" in stale.stderr
    assert saylau({**env, "SAYLAU_MASTER_KEY_FILE": str(new)},
                  "master-key", "check").returncode == 0
    lost = saylau({**env, "SAYLAU_MASTER_KEY_FILE": str(tmp_path / "gone.key")},
                  "master-key", "check")
    assert lost.returncode == 1 and "lost" in lost.stderr and not lost.stdout
