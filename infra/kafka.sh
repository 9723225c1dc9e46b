#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) broker, no Docker.
#
#   bash infra/kafka.sh start    # fetch jars (first run), format, start, wait until it serves
#   bash infra/kafka.sh stop     # SIGTERM, wait up to 30 s, then SIGKILL
#   bash infra/kafka.sh status   # exit 0 if running and the port answers, else 1
#
# Jars come from Maven Central through `mvn` (infra/kafka/pom.xml).
# Environment (all optional):
#   KAFKA_PORT (19092)  KAFKA_CONTROLLER_PORT (19093)
#   KAFKA_HOME ($ROOT/.cache/kafka; jars in $KAFKA_HOME/libs)
#   KAFKA_DATA ($ROOT/var/kafka/data)  KAFKA_HEAP ("-Xms256m -Xmx768m")
#   KAFKA_START_TIMEOUT (90 seconds)
#   KAFKA_RUN_DIR ($ROOT/var/kafka: pid, logs, server.properties, cluster id, lock; give a
#     second broker its own, or start/stop/status act on the first one)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
INFRA="$ROOT/infra/kafka"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.cache/kafka}"
KAFKA_DATA="${KAFKA_DATA:-$ROOT/var/kafka/data}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

RUN_DIR="${KAFKA_RUN_DIR:-$ROOT/var/kafka}"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/kafka.pid"
OUT_FILE="$RUN_DIR/kafka.out"
PROPS="$RUN_DIR/server.properties"
CLUSTER_ID_FILE="$RUN_DIR/cluster.id"
LOCK_FILE="$RUN_DIR/.lock"
LIBS="$KAFKA_HOME/libs"
LIBS_STAMP="$LIBS/.complete"

log() { printf 'kafka: %s\n' "$*"; }
err() { printf 'kafka: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

usage() {
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }

# --- process / port helpers ------------------------------------------------

# True if $1 is a live kafka.Kafka process started with our server.properties.
is_our_kafka() {
    local pid="$1" cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmd" == *kafka.Kafka* && "$cmd" == *"$PROPS"* ]] || return 1
    # a zombie is not running
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" != Z ]
}

# Prints the broker pid (from the pid file, else by scanning /proc) or fails.
find_pid() {
    local pid
    if [ -f "$PID_FILE" ]; then
        pid="$(tr -dc '0-9' <"$PID_FILE" || true)"
        if [ -n "$pid" ] && is_our_kafka "$pid"; then
            echo "$pid"
            return 0
        fi
    fi
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        if is_our_kafka "$pid"; then
            echo "$pid" >"$PID_FILE"
            echo "$pid"
            return 0
        fi
    done
    return 1
}

port_open() {
    # bash's /dev/tcp; the subshell closes the socket again
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
}

# Real protocol check: sends a Metadata (v4) request and succeeds if the
# answer lists at least one broker. Python 3 standard library only.
metadata_ok() {
    python3 - "$KAFKA_PORT" <<'PY' >/dev/null 2>&1
import socket, struct, sys
port = int(sys.argv[1])
client = b"saylau-infra"
# request header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
hdr = struct.pack(">hhih", 3, 4, 4242, len(client)) + client
# Metadata v4 body: topics = null (all), allow_auto_topic_creation = false
body = struct.pack(">i?", -1, False)
req = hdr + body
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.settimeout(5)
    s.sendall(struct.pack(">i", len(req)) + req)
    def recv(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", recv(4))
    resp = recv(size)
corr, _throttle, nbrokers = struct.unpack(">iii", resp[:12])
if corr != 4242 or nbrokers < 1:
    sys.exit(1)
pos = 12
node_id, = struct.unpack(">i", resp[pos:pos + 4]); pos += 4
hlen, = struct.unpack(">h", resp[pos:pos + 2]); pos += 2
host = resp[pos:pos + hlen].decode(); pos += hlen
bport, = struct.unpack(">i", resp[pos:pos + 4])
print(f"broker {node_id} at {host}:{bport}")
sys.exit(0 if bport == port else 1)
PY
}

# Byte offset of server.log when this start began, so that a "started" line
# or error lines left by an earlier run are not taken for this one.
LOG_OFFSET=0

new_server_log() {
    local f="$LOG_DIR/server.log" size
    [ -f "$f" ] || return 0
    size="$(stat -c %s "$f")"
    if [ "$size" -lt "$LOG_OFFSET" ]; then
        cat "$f"    # rolled over since: all of it is new
    else
        tail -c +"$((LOG_OFFSET + 1))" "$f"
    fi
}

started_logged() {
    grep -qs "Kafka Server started" "$OUT_FILE" && return 0
    new_server_log | grep -q "Kafka Server started"
}

show_logs() {
    if [ -s "$OUT_FILE" ]; then
        echo "----- last 40 lines of $OUT_FILE -----" >&2
        tail -n 40 "$OUT_FILE" >&2
    fi
    if [ -n "$(new_server_log | head -c 1)" ]; then
        echo "----- last 40 lines of $LOG_DIR/server.log -----" >&2
        new_server_log | tail -n 40 >&2
    fi
}

# --- pieces of start ---------------------------------------------------------

pom_hash() { sha256sum "$INFRA/pom.xml" | cut -d' ' -f1; }

ensure_jars() {
    local want have=""
    want="$(pom_hash)"
    [ -f "$LIBS_STAMP" ] && have="$(cat "$LIBS_STAMP")"
    if [ "$have" = "$want" ] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    need mvn "needed once to fetch the Kafka jars from Maven Central"
    need java "Java 17+ is required to run Kafka"
    mkdir -p "$KAFKA_HOME"
    rm -rf "$KAFKA_HOME"/libs.tmp.*    # leftovers of interrupted downloads
    local tmp
    tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
    log "fetching Kafka jars with Maven into $LIBS (first run only; may take a few minutes)"
    local t0=$SECONDS
    if ! mvn -B -q -f "$INFRA/pom.xml" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp.mvn.log" 2>&1; then
        tail -n 40 "$tmp.mvn.log" >&2 || true
        rm -rf "$tmp" "$tmp.mvn.log"
        die "mvn dependency:copy-dependencies failed (see above)"
    fi
    rm -f "$tmp.mvn.log"
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "mvn finished but no kafka_2.13 jar was copied"; }
    chmod 755 "$tmp"
    echo "$want" >"$tmp/.complete"
    rm -rf "$LIBS.old"
    [ -d "$LIBS" ] && mv "$LIBS" "$LIBS.old"
    mv "$tmp" "$LIBS"
    rm -rf "$LIBS.old"
    local jar
    jar="$(compgen -G "$LIBS/kafka_2.13-*.jar" | head -n 1)"
    log "jars ready (${jar##*/}, $((SECONDS - t0)) s)"
}

render_props() {
    local tmp="$PROPS.tmp.$$"
    # escape sed replacement metacharacters (| & \) in the values
    local esc_port esc_cport esc_data
    esc_port="$(printf '%s' "$KAFKA_PORT" | sed 's/[|&\\]/\\&/g')"
    esc_cport="$(printf '%s' "$KAFKA_CONTROLLER_PORT" | sed 's/[|&\\]/\\&/g')"
    esc_data="$(printf '%s' "$KAFKA_DATA" | sed 's/[|&\\]/\\&/g')"
    sed -e "s|\${KAFKA_PORT}|$esc_port|g" \
        -e "s|\${KAFKA_CONTROLLER_PORT}|$esc_cport|g" \
        -e "s|\${KAFKA_DATA}|$esc_data|g" \
        "$INFRA/server.properties.in" >"$tmp"
    # shellcheck disable=SC2016  # a literal "${" is what we look for
    if grep -q '\${' "$tmp"; then
        rm -f "$tmp"
        die "unsubstituted variable left in server.properties"
    fi
    mv "$tmp" "$PROPS"
}

new_cluster_id() {
    # Kafka cluster id = base64url(16 random bytes) without padding (22 chars)
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

ensure_formatted() {
    mkdir -p "$KAFKA_DATA"
    local cid=""
    [ -s "$CLUSTER_ID_FILE" ] && cid="$(tr -d ' \n' <"$CLUSTER_ID_FILE")"
    if [ -f "$KAFKA_DATA/meta.properties" ]; then
        local on_disk
        on_disk="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties" | tr -d ' \r')"
        if [ -n "$on_disk" ] && [ "$on_disk" != "$cid" ]; then
            # the data directory is the truth; keep the file in step with it
            echo "$on_disk" >"$CLUSTER_ID_FILE"
        fi
        return 0
    fi
    if [ -z "$cid" ]; then
        cid="$(new_cluster_id)"
        [ "${#cid}" -eq 22 ] || die "could not generate a cluster id (got '$cid')"
        echo "$cid" >"$CLUSTER_ID_FILE"
    fi
    log "formatting $KAFKA_DATA (cluster id $cid)"
    if ! java -Dlog4j.configuration="file:$INFRA/log4j.properties" -Dkafka.logs.dir="$LOG_DIR" \
            -cp "$LIBS/*" kafka.tools.StorageTool format -t "$cid" -c "$PROPS" \
            >"$RUN_DIR/format.out" 2>&1; then
        cat "$RUN_DIR/format.out" >&2
        die "kafka-storage format failed"
    fi
}

# --- subcommands -------------------------------------------------------------

cmd_start() {
    need java "Java 17+ is required to run Kafka"
    need python3 "used for the readiness check"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "timed out waiting for another 'kafka.sh start/stop' to finish"

    local pid
    if pid="$(find_pid)"; then
        if ! grep -q "^listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT," "$PROPS" 2>/dev/null; then
            die "a broker (pid $pid) is already running with $PROPS, but not on port $KAFKA_PORT ($(grep '^listeners=' "$PROPS" 2>/dev/null)); stop it first ('$0 stop')"
        fi
        if port_open "$KAFKA_PORT"; then
            log "kafka already running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
            return 0
        fi
        # alive but not (yet) listening: probably still starting up
        log "kafka process $pid exists but port $KAFKA_PORT is not open yet; waiting"
    else
        rm -f "$PID_FILE"
        local p
        for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
            if port_open "$p"; then
                die "port 127.0.0.1:$p is already in use by another process (not our broker); set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
            fi
        done

        ensure_jars
        render_props
        ensure_formatted

        : >"$OUT_FILE"
        LOG_OFFSET="$(stat -c %s "$LOG_DIR/server.log" 2>/dev/null || echo 0)"
        # shellcheck disable=SC2086  # KAFKA_HEAP is a list of flags
        (
            cd "$RUN_DIR"
            exec 9>&- </dev/null >>"$OUT_FILE" 2>&1
            # shellcheck disable=SC2016  # expanded by the inner bash
            exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
                java $KAFKA_HEAP \
                -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
                -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
                -XX:+ExitOnOutOfMemoryError \
                -Djava.awt.headless=true \
                -Dkafka.logs.dir="$LOG_DIR" \
                -Dlog4j.configuration="file:$INFRA/log4j.properties" \
                -cp "$LIBS/*" kafka.Kafka "$PROPS"
        ) &
        # wait until the wrapper has written the pid
        local _
        for _ in $(seq 1 50); do
            [ -s "$PID_FILE" ] && break
            sleep 0.1
        done
        pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
        [ -n "$pid" ] || { show_logs; die "failed to launch the broker (no pid)"; }
        log "started broker pid $pid on 127.0.0.1:$KAFKA_PORT; waiting until it serves"
    fi

    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null || ! is_our_kafka "$pid"; then
            show_logs
            rm -f "$PID_FILE"
            die "broker process $pid died during startup"
        fi
        if port_open "$KAFKA_PORT" && started_logged && metadata_ok; then
            log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid, cluster id $(cat "$CLUSTER_ID_FILE" 2>/dev/null || echo '?'))"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_logs
            die "broker (pid $pid) not ready after ${KAFKA_START_TIMEOUT}s; it is left running, use '$0 stop' to stop it"
        fi
        sleep 0.5
    done
}

cmd_stop() {
    mkdir -p "$RUN_DIR"
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "timed out waiting for another 'kafka.sh start/stop' to finish"
    local pid
    if ! pid="$(find_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    log "stopping broker pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while is_our_kafka "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            err "broker did not exit within 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.5
    done
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(find_pid)" && port_open "$KAFKA_PORT"; then
        log "running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
        return 0
    fi
    if [ -n "${pid:-}" ]; then
        log "process $pid alive but port $KAFKA_PORT not open"
    else
        log "not running"
    fi
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
