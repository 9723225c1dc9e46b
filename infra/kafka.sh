#!/usr/bin/env bash
# Local Apache Kafka (KRaft), no Docker: one node (default) or a cluster of KAFKA_BROKERS nodes.
#
#   bash infra/kafka.sh start         # fetch jars (first run), format, start, wait until it serves
#   bash infra/kafka.sh stop          # SIGTERM, wait up to 30 s, then SIGKILL
#   bash infra/kafka.sh status        # exit 0 if every node runs and its port answers, else 1
#   bash infra/kafka.sh stop-node N   # stop node N only (1-based)
#   bash infra/kafka.sh start-node N  # start node N only and wait until it serves
#
# KAFKA_BROKERS=3 runs three combined broker+controller nodes with one cluster id and a
# controller quorum of the three: node N listens on KAFKA_PORT + 100*(N-1) (19092, 19192,
# 19292; controllers on the port + 1), with its run directory and data in
# "$KAFKA_RUN_DIR-N" (var/kafka-1 ... var/kafka-3). Topics default to replication factor
# min(3, nodes) and min.insync.replicas 2 when that factor is 3 or more; unclean leader
# election is off.
#
# Jars come from Maven Central through `mvn` (infra/kafka/pom.xml).
# Environment (all optional):
#   KAFKA_PORT (19092)  KAFKA_CONTROLLER_PORT (19093)
#   KAFKA_HOME ($ROOT/.cache/kafka; jars in $KAFKA_HOME/libs)
#   KAFKA_DATA ($ROOT/var/kafka/data)  KAFKA_HEAP ("-Xms256m -Xmx768m")
#   KAFKA_START_TIMEOUT (90 seconds)
#   KAFKA_RUN_DIR ($ROOT/var/kafka: pid, logs, server.properties, cluster id, lock; give a
#     second broker its own, or start/stop/status act on the first one)
#   KAFKA_BROKERS (1)  KAFKA_PORTS / KAFKA_CONTROLLER_PORTS (comma lists, one per node,
#     overriding the port + 100*(N-1) rule; tests use them for free ports)
#   With KAFKA_BROKERS > 1, KAFKA_DATA is ignored: node N keeps its data in "$KAFKA_RUN_DIR-N/data".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
INFRA="$ROOT/infra/kafka"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.cache/kafka}"
KAFKA_DATA="${KAFKA_DATA:-$ROOT/var/kafka/data}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
[[ "$KAFKA_BROKERS" =~ ^[1-9]$ ]] || { echo "kafka: ERROR: KAFKA_BROKERS must be 1-9 (got '$KAFKA_BROKERS')" >&2; exit 2; }
RUN_BASE="${KAFKA_RUN_DIR:-$ROOT/var/kafka}"
LIBS="$KAFKA_HOME/libs"
KAFKA_NODE_ID=1
if [ "$KAFKA_BROKERS" -ge 3 ]; then KAFKA_RF=3; else KAFKA_RF="$KAFKA_BROKERS"; fi
if [ "$KAFKA_RF" -ge 3 ]; then KAFKA_MIN_ISR=2; else KAFKA_MIN_ISR=1; fi

# Per-node paths; select_node switches them (and the ports) to node N of the cluster.
set_paths() {
    RUN_DIR="$1"
    LOG_DIR="$RUN_DIR/logs"
    PID_FILE="$RUN_DIR/kafka.pid"
    OUT_FILE="$RUN_DIR/kafka.out"
    PROPS="$RUN_DIR/server.properties"
    CLUSTER_ID_FILE="$RUN_DIR/cluster.id"
    LOCK_FILE="$RUN_DIR/.lock"
}
set_paths "$RUN_BASE"

BASE_PORT="$KAFKA_PORT"
nth() {  # nth LIST N: the N-th item of a comma-separated list (empty if absent)
    local IFS=, items
    read -r -a items <<<"$1"
    echo "${items[$(($2 - 1))]:-}"
}
node_port() {
    local p=""
    [ -n "${KAFKA_PORTS:-}" ] && p="$(nth "$KAFKA_PORTS" "$1")"
    echo "${p:-$((BASE_PORT + 100 * ($1 - 1)))}"
}
node_controller_port() {
    local p=""
    [ -n "${KAFKA_CONTROLLER_PORTS:-}" ] && p="$(nth "$KAFKA_CONTROLLER_PORTS" "$1")"
    if [ -z "$p" ] && [ "$KAFKA_BROKERS" -eq 1 ]; then p="$KAFKA_CONTROLLER_PORT"; fi
    echo "${p:-$(($(node_port "$1") + 1))}"
}
quorum_voters() {
    local n out=""
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        out="$out${out:+,}$n@127.0.0.1:$(node_controller_port "$n")"
    done
    echo "$out"
}
select_node() {
    KAFKA_NODE_ID="$1"
    if [ "$KAFKA_BROKERS" -eq 1 ]; then
        return 0    # the single node keeps every variable exactly as given
    fi
    KAFKA_PORT="$(node_port "$1")"
    KAFKA_CONTROLLER_PORT="$(node_controller_port "$1")"
    set_paths "$RUN_BASE-$1"
    KAFKA_DATA="$RUN_DIR/data"
    CLUSTER_ID_FILE="$RUN_BASE-cluster.id"    # one id shared by every node
}
KAFKA_QUORUM_VOTERS="1@127.0.0.1:$KAFKA_CONTROLLER_PORT"
[ "$KAFKA_BROKERS" -gt 1 ] && KAFKA_QUORUM_VOTERS="$(quorum_voters)"

log() { printf 'kafka: %s\n' "$*"; }
err() { printf 'kafka: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

usage() {
    echo "usage: $0 {start|stop|status|start-node N|stop-node N|bootstrap}" >&2
    exit 2
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }
# shellcheck source=lib.sh
. "$ROOT/infra/lib.sh"

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
ports = []
for _ in range(nbrokers):  # node_id, host, port, rack (nullable string)
    node_id, = struct.unpack(">i", resp[pos:pos + 4]); pos += 4
    hlen, = struct.unpack(">h", resp[pos:pos + 2]); pos += 2
    host = resp[pos:pos + hlen].decode(); pos += hlen
    bport, = struct.unpack(">i", resp[pos:pos + 4]); pos += 4
    rlen, = struct.unpack(">h", resp[pos:pos + 2]); pos += 2 + max(rlen, 0)
    print(f"broker {node_id} at {host}:{bport}")
    ports.append(bport)
sys.exit(0 if port in ports else 1)
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

ensure_jars() { fetch_jars "$INFRA/pom.xml" "$LIBS" "kafka_2.13-*.jar" Kafka; }

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
        -e "s|\${KAFKA_NODE_ID}|$KAFKA_NODE_ID|g" \
        -e "s|\${KAFKA_QUORUM_VOTERS}|$KAFKA_QUORUM_VOTERS|g" \
        -e "s|\${KAFKA_RF}|$KAFKA_RF|g" \
        -e "s|\${KAFKA_MIN_ISR}|$KAFKA_MIN_ISR|g" \
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

# Launches the selected node unless it already runs (no waiting); sets NODE_PID.
launch_node() {
    need java "Java 17+ is required to run Kafka"
    need python3 "used for the readiness check"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local pid
    if pid="$(find_pid)"; then
        if ! grep -q "^listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT," "$PROPS" 2>/dev/null; then
            die "a broker (pid $pid) is already running with $PROPS, but not on port $KAFKA_PORT ($(grep '^listeners=' "$PROPS" 2>/dev/null)); stop it first ('$0 stop')"
        fi
        if port_open "$KAFKA_PORT"; then
            log "kafka already running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
            NODE_PID=""    # nothing to wait for
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
        log "started broker pid $pid on 127.0.0.1:$KAFKA_PORT (node $KAFKA_NODE_ID); waiting until it serves"
    fi
    NODE_PID="$pid"
}

# Waits until the selected node (pid $1) serves; fails with its logs if it dies or times out.
wait_node() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    LOG_OFFSET="${2:-$LOG_OFFSET}"
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

# Sends SIGTERM to the selected node; prints its pid (nothing if it is not running).
term_node() {
    mkdir -p "$RUN_DIR"
    local pid
    if ! pid="$(find_pid)"; then
        rm -f "$PID_FILE"
        log "node $KAFKA_NODE_ID not running" >&2
        return 0
    fi
    log "stopping broker pid $pid (node $KAFKA_NODE_ID)" >&2
    kill -TERM "$pid" 2>/dev/null || true
    echo "$pid"
}

# Waits for the selected node's pid $1 to exit (30 s), then SIGKILL.
reap_node() {
    local pid="$1"
    [ -n "$pid" ] || return 0
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

status_node() {
    local pid
    if pid="$(find_pid)" && port_open "$KAFKA_PORT"; then
        log "node $KAFKA_NODE_ID running (pid $pid, 127.0.0.1:$KAFKA_PORT)"
        return 0
    fi
    if [ -n "${pid:-}" ]; then
        log "node $KAFKA_NODE_ID: process $pid alive but port $KAFKA_PORT not open"
    else
        log "node $KAFKA_NODE_ID not running (127.0.0.1:$KAFKA_PORT)"
    fi
    return 1
}

# --- whole cluster / one node ---------------------------------------------------

take_lock() {
    local lock="$RUN_BASE.lock"
    [ "$KAFKA_BROKERS" -eq 1 ] && { mkdir -p "$RUN_DIR"; lock="$LOCK_FILE"; }
    mkdir -p "$(dirname "$lock")"
    exec 9>"$lock"
    flock -w 600 9 || die "timed out waiting for another 'kafka.sh start/stop' to finish"
}

cmd_start() {
    take_lock
    local n pids=() offsets=()
    # every node first: a node of a quorum only serves once a majority of controllers is up
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        select_node "$n"
        LOG_OFFSET="$(stat -c %s "$RUN_DIR/logs/server.log" 2>/dev/null || echo 0)"
        launch_node
        pids+=("$NODE_PID")
        offsets+=("$LOG_OFFSET")
    done
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        select_node "$n"
        wait_node "${pids[$((n - 1))]}" "${offsets[$((n - 1))]}"
    done
    if [ "$KAFKA_BROKERS" -gt 1 ]; then
        log "cluster of $KAFKA_BROKERS ready: KAFKA_BOOTSTRAP=$(bootstrap)"
    fi
}

cmd_stop() {
    take_lock
    local n pids=()
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        select_node "$n"
        pids+=("$(term_node)")
    done
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        select_node "$n"
        reap_node "${pids[$((n - 1))]}"
    done
}

cmd_status() {
    local n rc=0
    for n in $(seq 1 "$KAFKA_BROKERS"); do
        select_node "$n"
        status_node || rc=1
    done
    return "$rc"
}

bootstrap() {
    local n out=""
    for n in $(seq 1 "$KAFKA_BROKERS"); do out="$out${out:+,}127.0.0.1:$(node_port "$n")"; done
    echo "$out"
}

node_arg() {
    [[ "${1:-}" =~ ^[1-9]$ ]] && [ "$1" -le "$KAFKA_BROKERS" ] \
        || die "node must be 1..$KAFKA_BROKERS (got '${1:-}'; set KAFKA_BROKERS)"
    select_node "$1"
}

cmd_start_node() {
    take_lock
    node_arg "$1"
    LOG_OFFSET="$(stat -c %s "$RUN_DIR/logs/server.log" 2>/dev/null || echo 0)"
    launch_node
    wait_node "$NODE_PID" "$LOG_OFFSET"
}

cmd_stop_node() {
    take_lock
    node_arg "$1"
    reap_node "$(term_node)"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    start-node) cmd_start_node "${2:-}" ;;
    stop-node) cmd_stop_node "${2:-}" ;;
    bootstrap) bootstrap ;;
    *) usage ;;
esac
