# shellcheck shell=sh
# Defaults for the local services; source it from the checkout:  . infra/env.sh
#
# Exports, only when not already set:
#   KAFKA_BOOTSTRAP=127.0.0.1:${KAFKA_PORT:-19092}  (with KAFKA_BROKERS=3: all three nodes,
#     127.0.0.1:19092,127.0.0.1:19192,127.0.0.1:19292, each KAFKA_PORT + 100*(N-1))
#   DATABASE_URL=postgresql://saylau@127.0.0.1:${PG_PORT:-15432}/saylau
#   SAYLAU_MASTER_KEY_FILE=<checkout>/var/master.key, when that file exists and neither
#     SAYLAU_MASTER_KEY nor SAYLAU_MASTER_KEY_FILE is set (the dev key `make up` writes)
# and SAYLAU_OWN_KAFKA / SAYLAU_OWN_PG = 1 when this file chose the value
# (so the caller should start the local instance with infra/kafka.sh or
# infra/postgres.sh), 0 when the value came from outside (use as given).
# Adds to SAYLAU_API_KEYS the demo key `make up` gives the services (demo:<var/demo-key>,
# every scope), when that file exists and the entry is not there yet; so `saylau find`,
# `erase`, `export --decrypt` know the keys the services know.
# POSIX sh; safe to source more than once and under `set -eu`.

if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
    KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT:-19092}"
    _saylau_n=2
    while [ "$_saylau_n" -le "${KAFKA_BROKERS:-1}" ]; do
        KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP,127.0.0.1:$((${KAFKA_PORT:-19092} + 100 * (_saylau_n - 1)))"
        _saylau_n=$((_saylau_n + 1))
    done
    unset _saylau_n
    SAYLAU_OWN_KAFKA=1
elif [ -z "${SAYLAU_OWN_KAFKA:-}" ]; then
    SAYLAU_OWN_KAFKA=0
fi
export KAFKA_BOOTSTRAP SAYLAU_OWN_KAFKA

if [ -z "${DATABASE_URL:-}" ]; then
    DATABASE_URL="postgresql://saylau@127.0.0.1:${PG_PORT:-15432}/saylau"
    SAYLAU_OWN_PG=1
elif [ -z "${SAYLAU_OWN_PG:-}" ]; then
    SAYLAU_OWN_PG=0
fi
export DATABASE_URL SAYLAU_OWN_PG

# the checkout: this file's (bash names it; other shells: sourced from the checkout)
# shellcheck disable=SC3028,SC3054
_saylau_root=$(CDPATH= cd "$(dirname "${BASH_SOURCE:-infra/env.sh}")/.." 2>/dev/null && pwd) \
    || _saylau_root=$PWD

if [ -z "${SAYLAU_MASTER_KEY:-}" ] && [ -z "${SAYLAU_MASTER_KEY_FILE:-}" ] \
        && [ -s "$_saylau_root/var/master.key" ]; then
    SAYLAU_MASTER_KEY_FILE="$_saylau_root/var/master.key"
    export SAYLAU_MASTER_KEY_FILE
fi

if [ -s "$_saylau_root/var/demo-key" ]; then
    _saylau_demo="demo:$(cat "$_saylau_root/var/demo-key")"
    case ",${SAYLAU_API_KEYS:-}," in
        *",$_saylau_demo,"*) ;;
        *) SAYLAU_API_KEYS="${SAYLAU_API_KEYS:+$SAYLAU_API_KEYS,}$_saylau_demo" ;;
    esac
    export SAYLAU_API_KEYS
    unset _saylau_demo
fi
unset _saylau_root
