#!/usr/bin/env bash
# Local S3-compatible object store (S3Proxy over a directory, jclouds "filesystem"), no Docker.
# Used by the evidence store's integration tests (EVIDENCE_URL=s3://...).
#
#   bash infra/s3proxy.sh start    # fetch jars (first run), start, wait until it answers S3
#   bash infra/s3proxy.sh stop     # SIGTERM, wait up to 20 s, then SIGKILL
#   bash infra/s3proxy.sh status   # exit 0 if running and the port answers, else 1
#
# Jars come from Maven Central through `mvn` (infra/s3proxy/pom.xml, org.gaul:s3proxy 2.6.0).
# Environment (all optional):
#   S3PROXY_PORT (19000)  S3PROXY_HOME ($ROOT/.cache/s3proxy; jars in $S3PROXY_HOME/libs)
#   S3PROXY_DATA ($RUN_DIR/data: buckets are its subdirectories)
#   S3PROXY_IDENTITY (saylau-test)  S3PROXY_CREDENTIAL (saylau-test-secret): the fixed test
#     key (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for clients); S3PROXY_AUTH=none disables it
#   S3PROXY_HEAP ("-Xms64m -Xmx256m")  S3PROXY_START_TIMEOUT (60 seconds)
#   S3PROXY_RUN_DIR ($ROOT/var/s3proxy: pid, log, properties, lock; give a second instance
#     its own, or start/stop/status act on the first one)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
INFRA="$ROOT/infra/s3proxy"

S3PROXY_PORT="${S3PROXY_PORT:-19000}"
S3PROXY_HOME="${S3PROXY_HOME:-$ROOT/.cache/s3proxy}"
RUN_DIR="${S3PROXY_RUN_DIR:-$ROOT/var/s3proxy}"
S3PROXY_DATA="${S3PROXY_DATA:-$RUN_DIR/data}"
S3PROXY_IDENTITY="${S3PROXY_IDENTITY:-saylau-test}"
S3PROXY_CREDENTIAL="${S3PROXY_CREDENTIAL:-saylau-test-secret}"
S3PROXY_AUTH="${S3PROXY_AUTH:-aws-v2-or-v4}"
S3PROXY_HEAP="${S3PROXY_HEAP:--Xms64m -Xmx256m}"
S3PROXY_START_TIMEOUT="${S3PROXY_START_TIMEOUT:-60}"

PID_FILE="$RUN_DIR/s3proxy.pid"
OUT_FILE="$RUN_DIR/s3proxy.out"
PROPS="$RUN_DIR/s3proxy.properties"
LOCK_FILE="$RUN_DIR/.lock"
LIBS="$S3PROXY_HOME/libs"

log() { printf 's3proxy: %s\n' "$*"; }
err() { printf 's3proxy: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }
usage() { echo "usage: $0 {start|stop|status}" >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }
# shellcheck source=lib.sh
. "$ROOT/infra/lib.sh"

# True if $1 is a live S3Proxy started with our properties file.
is_ours() {
    local pid="$1" cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmd" == *org.gaul.s3proxy.Main* && "$cmd" == *"$PROPS"* ]] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" != Z ]
}

find_pid() {
    local pid
    if [ -f "$PID_FILE" ]; then
        pid="$(tr -dc '0-9' <"$PID_FILE" || true)"
        if [ -n "$pid" ] && is_ours "$pid"; then echo "$pid"; return 0; fi
    fi
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        if is_ours "$pid"; then echo "$pid" >"$PID_FILE"; echo "$pid"; return 0; fi
    done
    return 1
}

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1; }

# Real protocol check: an unsigned ListBuckets must come back as an S3 XML answer
# (ListAllMyBucketsResult without auth, an S3 <Error> document with it).
s3_answers() {
    python3 - "$S3PROXY_PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
url = f"http://127.0.0.1:{sys.argv[1]}/"
try:
    body = urllib.request.urlopen(url, timeout=5).read()
except urllib.error.HTTPError as e:
    body = e.read()
sys.exit(0 if (b"ListAllMyBucketsResult" in body or b"<Error>" in body) else 1)
PY
}

ensure_jars() { fetch_jars "$INFRA/pom.xml" "$LIBS" "s3proxy-*.jar" S3Proxy; }

write_props() {
    local tmp="$PROPS.tmp.$$"
    {
        echo "s3proxy.endpoint=http://127.0.0.1:$S3PROXY_PORT"
        echo "s3proxy.authorization=$S3PROXY_AUTH"
        if [ "$S3PROXY_AUTH" != none ]; then
            echo "s3proxy.identity=$S3PROXY_IDENTITY"
            echo "s3proxy.credential=$S3PROXY_CREDENTIAL"
        fi
        echo "jclouds.provider=filesystem"
        echo "jclouds.filesystem.basedir=$S3PROXY_DATA"
    } >"$tmp"
    mv "$tmp" "$PROPS"
}

cmd_start() {
    need java "Java 17+ is required to run S3Proxy"
    need python3 "used for the readiness check"
    mkdir -p "$RUN_DIR" "$S3PROXY_DATA"
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "timed out waiting for another 's3proxy.sh start/stop' to finish"
    local pid
    if pid="$(find_pid)"; then
        grep -q "^s3proxy.endpoint=http://127.0.0.1:$S3PROXY_PORT\$" "$PROPS" 2>/dev/null \
            || die "S3Proxy (pid $pid) already runs with $PROPS on another port; stop it first"
        log "process $pid already started; waiting until it answers"
    else
        rm -f "$PID_FILE"
        port_open "$S3PROXY_PORT" && die "port 127.0.0.1:$S3PROXY_PORT is in use by another process; set S3PROXY_PORT"
        ensure_jars
        write_props
        : >"$OUT_FILE"
        # shellcheck disable=SC2086  # S3PROXY_HEAP is a list of flags
        (
            cd "$RUN_DIR"
            exec 9>&- </dev/null >>"$OUT_FILE" 2>&1
            # shellcheck disable=SC2016  # expanded by the inner bash
            exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
                java $S3PROXY_HEAP -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
                -cp "$LIBS/*" org.gaul.s3proxy.Main --properties "$PROPS"
        ) &
        local _
        for _ in $(seq 1 50); do [ -s "$PID_FILE" ] && break; sleep 0.1; done
        pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
        [ -n "$pid" ] || { tail -n 40 "$OUT_FILE" >&2; die "failed to launch S3Proxy (no pid)"; }
        log "started pid $pid on 127.0.0.1:$S3PROXY_PORT over $S3PROXY_DATA; waiting until it answers"
    fi
    local deadline=$((SECONDS + S3PROXY_START_TIMEOUT))
    while :; do
        if ! is_ours "$pid"; then
            tail -n 40 "$OUT_FILE" >&2 || true
            rm -f "$PID_FILE"
            die "S3Proxy process $pid died during startup"
        fi
        if port_open "$S3PROXY_PORT" && s3_answers; then
            log "ready on http://127.0.0.1:$S3PROXY_PORT (pid $pid)"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 40 "$OUT_FILE" >&2 || true
            die "S3Proxy (pid $pid) not ready after ${S3PROXY_START_TIMEOUT}s; left running, use '$0 stop'"
        fi
        sleep 0.3
    done
}

cmd_stop() {
    mkdir -p "$RUN_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "timed out waiting for another 's3proxy.sh start/stop' to finish"
    local pid
    if ! pid="$(find_pid)"; then rm -f "$PID_FILE"; log "not running"; return 0; fi
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while is_ours "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            err "did not exit within 20 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.3
    done
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(find_pid)" && port_open "$S3PROXY_PORT"; then
        log "running (pid $pid, http://127.0.0.1:$S3PROXY_PORT)"
        return 0
    fi
    if [ -n "${pid:-}" ]; then log "process $pid alive but port $S3PROXY_PORT not open"; else log "not running"; fi
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
