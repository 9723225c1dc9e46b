# Sourced by up.sh and test.sh: install everything, start what is not given, export settings.
# Idempotent: a second run reuses the venv, the Kafka jars and the data.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT"
mkdir -p var/log

log() { printf '\033[1m[saylau]\033[0m %s\n' "$*" >&2; }

install_python() {
  local stamp=.venv/.installed
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    log "installing Python dependencies into .venv"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".[dev]" -c constraints.txt  # the tested versions
    touch "$stamp"
  fi
}

install_web() {
  # The pages' browser libraries from npm (web/package-lock.json), served by the services
  # themselves: the observer app needs them to work offline, so nothing comes from a CDN.
  local stamp=web/node_modules/.installed
  if [ -f "$stamp" ] && [ ! web/package-lock.json -nt "$stamp" ] && [ ! web/package.json -nt "$stamp" ]; then
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "installing Debian's npm for the web libraries"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null; }
  fi
  log "installing the web libraries into web/node_modules (npm ci)"
  npm ci --prefix web --omit=dev --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
}

CHROMIUM=/usr/bin/chromium

install_chromium() {
  # The browser tests drive Debian's Chromium (Playwright's own browser download does not work
  # here); they fail without it, so a failed install stops the set-up here, loudly.
  if [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1; then
    return 0
  fi
  local sudo=() apt_log=var/log/apt-chromium.log
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo=(sudo -n)
  fi
  log "installing Debian's chromium for the browser tests (log: $apt_log)"
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
           || { "${sudo[@]}" apt-get update -q \
                && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
       } >"$apt_log" 2>&1 \
     || ! "$CHROMIUM" --version >>"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2 || true
    log "ERROR: could not install Debian's chromium ($CHROMIUM): the dashboard's browser tests"
    log "need it. Install it as root (apt-get install chromium) and run this again."
    exit 1
  fi
}

start_infra() {
  SAYLAU_STARTED_KAFKA=0
  SAYLAU_STARTED_PG=0
  if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
    bash infra/kafka.sh status >/dev/null 2>&1 || SAYLAU_STARTED_KAFKA=1
    log "starting Kafka (KRaft, ${KAFKA_BROKERS:-1} node(s) from 127.0.0.1:${KAFKA_PORT:-19092})"
    bash infra/kafka.sh start
  fi
  if [ -z "${DATABASE_URL:-}" ]; then
    bash infra/postgres.sh status >/dev/null 2>&1 || SAYLAU_STARTED_PG=1
    log "starting PostgreSQL (127.0.0.1:${PG_PORT:-15432})"
    bash infra/postgres.sh start
  fi
  # shellcheck source=../infra/env.sh
  . infra/env.sh
  export KAFKA_BOOTSTRAP DATABASE_URL SAYLAU_STARTED_KAFKA SAYLAU_STARTED_PG
}

stop_infra() {
  [ "${SAYLAU_STARTED_KAFKA:-0}" = 1 ] && bash infra/kafka.sh stop || true
  [ "${SAYLAU_STARTED_PG:-0}" = 1 ] && bash infra/postgres.sh stop || true
}

ensure_master_key() {
  # A dev master key for personal data when none is given; production sets its own.
  if [ -z "${SAYLAU_MASTER_KEY:-}" ] && [ -z "${SAYLAU_MASTER_KEY_FILE:-}" ]; then
    export SAYLAU_MASTER_KEY_FILE="$ROOT/var/master.key"
    .venv/bin/python -c 'import sys, pathlib; from saylau.privacy.keys import write_key_file
write_key_file(pathlib.Path(sys.argv[1]))' "$SAYLAU_MASTER_KEY_FILE"
  fi
}

install_python
install_web
install_chromium
ensure_master_key
start_infra
