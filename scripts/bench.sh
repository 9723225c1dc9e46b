#!/usr/bin/env bash
# `make bench`: the same set-up as `make up`, then the ingest rates (bench/ingest_rate.py: wrk
# single POSTs, batch POSTs, raw produce / PostgreSQL insert ceilings), the pipeline
# benchmark (bench/pipeline.py) and the read benchmark (bench/reads.py).
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
# the read benchmark (issue 18): wrk drives 50 readers per endpoint; sizes in BENCH_READ_SIZES
.venv/bin/python -m bench.reads
