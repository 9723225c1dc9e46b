#!/usr/bin/env bash
# Local PostgreSQL for development and tests, no Docker.
#
#   bash infra/postgres.sh start    # install (if needed), initdb (first run), start, ensure role+db
#   bash infra/postgres.sh stop     # pg_ctl stop -m fast
#   bash infra/postgres.sh status   # exit 0 if running and accepting connections, else 1
#
# Clients: DATABASE_URL=postgresql://saylau@127.0.0.1:15432/saylau (trust auth, no password)
# Environment (all optional):
#   PG_PORT (15432)  PG_DATA ($PG_BASE/data)
#   PG_BASE ($ROOT/var/pg: socket dir, server log, lock; give a second server its own)
# The server binaries are Debian's (newest /usr/lib/postgresql/*/bin); when
# absent they are installed with apt-get. As root, initdb/postgres run as the
# `postgres` user; as any other user they run as that user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

PG_PORT="${PG_PORT:-15432}"
PG_BASE="${PG_BASE:-$ROOT/var/pg}"
PG_DATA="${PG_DATA:-$PG_BASE/data}"
PG_RUN="$PG_BASE/run"
PG_LOG="$PG_BASE/postgres.log"
LOCK_FILE="$PG_BASE/.lock"
APP_ROLE=saylau
APP_DB=saylau

# Every path is absolute; the server must not inherit a cwd it cannot enter.
cd /

log() { printf 'postgres: %s\n' "$*"; }
err() { printf 'postgres: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

usage() {
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
}

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

BIN=""
find_bin() {
    local d
    BIN=""
    local -a dirs=(/usr/lib/postgresql/*/bin)
    [ -d "${dirs[0]}" ] || return 1
    for d in $(printf '%s\n' "${dirs[@]}" | sort -V); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && BIN="$d"
    done
    [ -n "$BIN" ]
}

ensure_installed() {
    find_bin && return 0
    [ "$IS_ROOT" -eq 1 ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them with: sudo apt-get install -y postgresql"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
    log "PostgreSQL not found; installing Debian's postgresql package (apt-get)"
    local apt_log
    apt_log="$(mktemp /tmp/saylau-apt.XXXXXX)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q postgresql >"$apt_log" 2>&1; then
        if ! { apt-get update -q && apt-get install -y -q postgresql; } >>"$apt_log" 2>&1; then
            tail -n 40 "$apt_log" >&2
            die "apt-get install postgresql failed (full log: $apt_log)"
        fi
    fi
    rm -f "$apt_log"
    find_bin || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    log "installed PostgreSQL ($BIN)"
}

# Run a command as the database OS user.
as_pg() {
    if [ "$IS_ROOT" -eq 1 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Make every directory from / down to $1 traversable by the postgres user.
ensure_traversable() {
    [ "$IS_ROOT" -eq 1 ] || return 0
    local target="$1" path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${target#/}"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        path="$path/$part"
        [ -d "$path" ] || break
        if ! runuser -u postgres -- test -x "$path" 2>/dev/null; then
            chmod o+x "$path"
            log "made $path traversable for the postgres user (chmod o+x)"
        fi
    done
}

ensure_dirs() {
    mkdir -p "$PG_BASE" "$PG_RUN"
    if [ "$IS_ROOT" -eq 1 ]; then
        id postgres >/dev/null 2>&1 || die "the 'postgres' OS user does not exist (is the postgresql package installed?)"
        ensure_traversable "$PG_BASE"
        chown postgres:postgres "$PG_BASE" "$PG_RUN"
        [ -e "$PG_LOG" ] && chown postgres:postgres "$PG_LOG"
        [ -e "$LOCK_FILE" ] && chown postgres:postgres "$LOCK_FILE"
        if [ ! -d "$PG_DATA" ]; then
            mkdir -p "$(dirname "$PG_DATA")"
            ensure_traversable "$(dirname "$PG_DATA")"
            mkdir -p "$PG_DATA"
            chown postgres:postgres "$PG_DATA"
        fi
    else
        mkdir -p "$PG_DATA"
    fi
    chmod 755 "$PG_BASE" "$PG_RUN"
    chmod 700 "$PG_DATA"
}

take_lock() {
    exec 9>>"$LOCK_FILE"
    flock -w 300 9 || die "timed out waiting for another 'postgres.sh' to finish"
}

ensure_initdb() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    if [ -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]; then
        die "$PG_DATA is not empty but has no PG_VERSION (a broken initdb?); remove it to start afresh"
    fi
    log "initdb $PG_DATA ($("$BIN/postgres" --version))"
    local locale_opt=(--locale=C.UTF-8)
    local locales
    locales="$(locale -a 2>/dev/null || true)"
    if ! grep -qiE '^c\.utf-?8$' <<<"$locales"; then
        locale_opt=(--no-locale)
    fi
    local out
    if ! out="$(as_pg "$BIN/initdb" -D "$PG_DATA" -A trust --auth-local=trust -U postgres \
            -E UTF8 "${locale_opt[@]}" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "initdb failed"
    fi
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

configure() {
    local conf="$PG_DATA/saylau.conf" tmp
    tmp="$(mktemp "$PG_DATA/.saylau.conf.XXXXXX")"
    cat >"$tmp" <<EOF
# Written by infra/postgres.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = $(sql_quote "$PG_RUN")
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
EOF
    chmod 600 "$tmp"
    [ "$IS_ROOT" -eq 1 ] && chown postgres:postgres "$tmp"
    mv "$tmp" "$conf"
    if ! grep -q "^include_if_exists = 'saylau.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# local settings for Saylau Watch (infra/postgres.sh)\ninclude_if_exists = 'saylau.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
}

server_running() {
    as_pg "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

accepting() {
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 3 >/dev/null 2>&1
}

port_open() {
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
}

psql_admin() {
    PGCONNECT_TIMEOUT=10 "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

ensure_db() {
    local out
    out="$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE'")" \
        || die "cannot connect to 127.0.0.1:$PG_PORT as postgres"
    if [ "$out" != 1 ]; then
        psql_admin -c "CREATE ROLE $APP_ROLE LOGIN SUPERUSER" >/dev/null
        log "created role $APP_ROLE"
    fi
    out="$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$APP_DB'")"
    if [ "$out" != 1 ]; then
        psql_admin -c "CREATE DATABASE $APP_DB OWNER $APP_ROLE" >/dev/null
        log "created database $APP_DB"
    fi
}

cmd_start() {
    ensure_installed
    ensure_dirs
    take_lock
    ensure_initdb

    if server_running; then
        local running_port
        running_port="$(as_pg sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null | tr -dc '0-9' || true)"
        if [ -n "$running_port" ] && [ "$running_port" != "$PG_PORT" ]; then
            die "the server in $PG_DATA is already running on port $running_port, not $PG_PORT; stop it first ('$0 stop')"
        fi
        # running (maybe still starting up, or a dying leftover): wait for it
        local deadline=$((SECONDS + 60))
        while server_running; do
            if accepting; then
                ensure_db
                log "already running (127.0.0.1:$PG_PORT)"
                return 0
            fi
            [ "$SECONDS" -lt "$deadline" ] || die "server in $PG_DATA is running but not accepting connections on 127.0.0.1:$PG_PORT (see $PG_LOG)"
            sleep 1
        done
    fi

    if port_open "$PG_PORT"; then
        die "port 127.0.0.1:$PG_PORT is already in use by another process; set PG_PORT"
    fi
    configure
    if [ "$IS_ROOT" -eq 1 ]; then
        touch "$PG_LOG"
        chown postgres:postgres "$PG_LOG"
    fi
    local log_off
    log_off="$(stat -c %s "$PG_LOG" 2>/dev/null || echo 0)"
    if ! as_pg "$BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null 2>"$PG_BASE/pg_ctl.err" 9>&-; then
        cat "$PG_BASE/pg_ctl.err" >&2 || true
        echo "----- last 40 lines of $PG_LOG -----" >&2
        tail -c +"$((log_off + 1))" "$PG_LOG" | tail -n 40 >&2 || true
        die "pg_ctl start failed"
    fi
    rm -f "$PG_BASE/pg_ctl.err"
    ensure_db
    log "running on 127.0.0.1:$PG_PORT (DATABASE_URL=postgresql://$APP_ROLE@127.0.0.1:$PG_PORT/$APP_DB)"
}

cmd_stop() {
    find_bin || { log "not installed, nothing to stop"; return 0; }
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        log "not running (no cluster in $PG_DATA)"
        return 0
    fi
    [ -d "$PG_BASE" ] && take_lock
    if ! server_running; then
        log "not running"
        return 0
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null; then
        err "fast shutdown did not finish in 60 s; trying immediate"
        as_pg "$BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null || die "could not stop the server"
    fi
    log "stopped"
}

cmd_status() {
    if ! find_bin; then
        log "not installed"
        return 1
    fi
    if [ -f "$PG_DATA/PG_VERSION" ] && server_running && accepting; then
        log "running (127.0.0.1:$PG_PORT)"
        return 0
    fi
    log "not running"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
