#!/usr/bin/env bash
# `make up`: set everything up, start Kafka, PostgreSQL and the three services, feed the demo.
# Ctrl-C / SIGINT / SIGTERM stops it all; the data stays for the next run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/setup.sh"

[ -s var/demo-key ] || .venv/bin/python -c 'from saylau.web.keys import new_key; print(new_key())' > var/demo-key
DEMO_KEY=$(cat var/demo-key)
. infra/env.sh  # gives the services the demo key, as it gives it to the CLI in another shell
export INGEST_PORT=${INGEST_PORT:-8080} API_PORT=${API_PORT:-8081}
export INGEST_HOST=${INGEST_HOST:-127.0.0.1} API_HOST=${API_HOST:-127.0.0.1}

.venv/bin/saylau migrate >/dev/null
pids=()
start() { local name=$1; shift; "$@" >>"var/log/$name.log" 2>&1 & pids+=("$!"); }
stop_all() {
  trap - EXIT INT TERM
  log "stopping services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  stop_infra
  log "stopped; data kept in var/ (the event log is durable)"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# the dashboard (on the api) posts triage and broadcasts to ingest with its session cookie
SAYLAU_DASHBOARD_ORIGINS="${SAYLAU_DASHBOARD_ORIGINS:-http://$API_HOST:$API_PORT}" start ingest .venv/bin/uvicorn services.ingest.app:app --host "$INGEST_HOST" --port "$INGEST_PORT" --no-access-log --loop uvloop --http saylau.web.transport:OneWritePerResponse
start projector .venv/bin/python -m services.projector.app
SAYLAU_INGEST_URL="${SAYLAU_INGEST_URL:-http://$INGEST_HOST:$INGEST_PORT}" start api .venv/bin/uvicorn services.api.app:app --host "$API_HOST" --port "$API_PORT" --no-access-log --http saylau.web.transport:OneWritePerResponse --workers "${API_WORKERS:-$(( $(nproc) / 2 > 1 ? $(nproc) / 2 : 1 ))}"
start webhooks .venv/bin/python -m services.webhooks.app

wait_ready() {
  for _ in $(seq 1 120); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "$1 did not become ready; see var/log/"; exit 1
}
wait_ready "http://$INGEST_HOST:$INGEST_PORT/readyz"
wait_ready "http://$API_HOST:$API_PORT/readyz"

cat <<MSG

  Saylau Watch is running.
    dashboard   http://$API_HOST:$API_PORT/   (sign in with the demo key)
    API         http://$API_HOST:$API_PORT/docs
    ingest      http://$INGEST_HOST:$INGEST_PORT/docs
    observers   http://$INGEST_HOST:$INGEST_PORT/observe/   (saylau observers issue-pin ID)
    demo key    $DEMO_KEY
    logs        var/log/{ingest,projector,api,webhooks,demo}.log
  Ctrl-C stops everything.

MSG
services=("${pids[@]}")
start demo .venv/bin/saylau demo --ingest "http://$INGEST_HOST:$INGEST_PORT" --key "$DEMO_KEY" --follow
status=0
wait -n "${services[@]}" || status=$?
sleep 0.2  # a Ctrl-C reaches the services too: let the INT trap win over the message below
log "a service exited (status $status); see var/log/"
exit 1
