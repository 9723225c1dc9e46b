#!/usr/bin/env bash
# `make bench`: the same set-up as `make up`, then the ingest rates (bench/ingest_rate.py: wrk
# single POSTs, batch POSTs, raw produce / PostgreSQL insert ceilings), the pipeline
# benchmark (bench/pipeline.py), PostgreSQL's floor (bench/sql_floor.py) and the read
# benchmark (bench/reads.py).
# Results go to bench/results/ (JSON + SVG). Not part of the test suite; CI never runs it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"
trap stop_infra EXIT
if ! command -v wrk >/dev/null; then  # Debian's wrk generates the single-POST load
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi
.venv/bin/python -m bench.ingest_stages   # CPU per event of each Python stage of ingest
.venv/bin/python -m bench.ingest_rate ${BENCH_PROFILE:+--profile}
.venv/bin/python -m bench.pipeline "$@"
# PostgreSQL alone under a replay and under one live worker: the statements they send, again,
# with no Python projection between them (what targets 3 and 4 of the speed issue run into)
.venv/bin/python -m bench.sql_floor --events 200000 --connections 2
.venv/bin/python -m bench.sql_floor --live --events 50000 --batch 2000 --connections 1
# the read benchmark (issue 18): wrk drives 50 readers per endpoint; sizes in BENCH_READ_SIZES
.venv/bin/python -m bench.reads
