#!/usr/bin/env bash
# `make bench`: the same set-up as `make up`, then the pipeline benchmark (bench/pipeline.py)
# and the read benchmark (bench/reads.py).
# Results go to bench/results/ (JSON + SVG). Not part of the test suite; CI never runs it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"
trap stop_infra EXIT
.venv/bin/python -m bench.pipeline "$@"
# the read benchmark (issue 18): wrk drives 50 readers per endpoint; sizes in BENCH_READ_SIZES
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi
.venv/bin/python -m bench.reads
