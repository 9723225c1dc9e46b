#!/usr/bin/env bash
# `make test`: the same set-up as `make up`, then every test against the real Kafka and PostgreSQL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"
trap stop_infra EXIT
log "checking the import layers (import-linter contracts in pyproject.toml)"
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
log "building the documentation strictly (mkdocs.yml)"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet -d var/site
.venv/bin/python -m pytest "$@"
