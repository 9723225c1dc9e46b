#!/usr/bin/env bash
# `make test`: the same set-up as `make up`, then every test against the real Kafka and PostgreSQL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium for the browser test"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
trap stop_infra EXIT
.venv/bin/python -m pytest "$@"
