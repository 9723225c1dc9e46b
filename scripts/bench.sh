#!/usr/bin/env bash
# `make bench`: the same set-up as `make up`, then the pipeline benchmark (bench/pipeline.py).
# Results go to bench/results/ (JSON + SVG). Not part of the test suite; CI never runs it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"
trap stop_infra EXIT
.venv/bin/python -m bench.pipeline "$@"
