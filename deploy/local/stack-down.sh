#!/usr/bin/env bash
# Stops the services that stack-up.sh started (those listed in the state directory's `started`)
# and nothing else. Data, credentials and the AOO certificate stay in place.
#
# Usage: deploy/local/stack-down.sh [--purge]
#   --purge  also delete Garage's data and metadata (garage/ in the state directory); the
#            credentials are kept, so the next stack-up.sh recreates the same
#            key and an empty bucket.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"

PURGE=0
for arg in "$@"; do
    case $arg in
    --purge) PURGE=1 ;;
    -h | --help)
        sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $arg (usage: stack-down.sh [--purge])" ;;
    esac
done

[[ $EUID -eq 0 ]] || die "run as root"

STOPPED=()
FAILED=()

# stop_pid NAME PIDFILE PATTERN: TERM the recorded process (and its process
# group), escalate to KILL after 20s.
stop_pid() {
    local name=$1 pidfile=$2 pattern=$3 pid i
    if ! pid=$(pid_alive "$pidfile" "$pattern"); then
        log "$name is not running (no live process for ${pidfile#"$REPO_ROOT"/})"
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name did not stop after 20s: killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    if kill -0 "$pid" 2>/dev/null; then
        return 1
    fi
    rm -f "$pidfile"
}

stop_service() {
    local ver
    case $1 in
    garage) stop_pid Garage "$GARAGE_PID" garage ;;
    maildev) stop_pid maildev "$MAILDEV_PID" maildev ;;
    rabbitmq)
        if ! port_open 5672 && ! rabbitmqctl -q status >/dev/null 2>&1; then
            log "RabbitMQ is not running"
            return 0
        fi
        log "stopping RabbitMQ"
        # `shutdown` is `stop` that also waits for the Erlang VM to exit.
        rabbitmqctl -q shutdown >/dev/null 2>&1 || rabbitmqctl -q stop >/dev/null || return 1
        wait_for 30 "RabbitMQ shutdown (port 5672 still open)" bash -c '! : >/dev/tcp/127.0.0.1/5672' 2>/dev/null
        # The Erlang port mapper it spawned outlives it; stop it too when no
        # other Erlang node is registered there.
        if command -v epmd >/dev/null 2>&1 && epmd -names 2>/dev/null | grep -q '^epmd: up' &&
            ! epmd -names 2>/dev/null | grep -q '^name '; then
            epmd -kill >/dev/null 2>&1 || true
        fi
        ;;
    postgresql)
        ver=$(pg_version)
        [[ -n $ver ]] || { warn "no PostgreSQL installation found"; return 1; }
        if ! port_open 5432; then
            log "PostgreSQL is not running"
            return 0
        fi
        log "stopping PostgreSQL $ver"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main stop
        ;;
    *)
        warn "unknown service '$1' in ${STARTED_FILE#"$REPO_ROOT"/}: dropping the line"
        ;;
    esac
}

services=()
if [[ -f $STARTED_FILE ]]; then
    mapfile -t services < <(grep -v '^[[:space:]]*$' "$STARTED_FILE")
fi

# Stop in the reverse order of stack-up.sh: mail and storage before the
# database and the broker.
for name in maildev garage postgresql rabbitmq; do
    for s in "${services[@]}"; do
        [[ $s == "$name" ]] || continue
        if stop_service "$name"; then
            unmark_started "$name"
            STOPPED+=("$name")
        else
            FAILED+=("$name")
        fi
    done
done
for s in "${services[@]}"; do
    case $s in
    maildev | garage | postgresql | rabbitmq) ;;
    *)
        stop_service "$s"
        unmark_started "$s"
        ;;
    esac
done

if ((PURGE)); then
    if pid_alive "$GARAGE_PID" garage >/dev/null || port_open 3900; then
        die "Garage is still running (not started by stack-up.sh, or it would not stop): not purging its data"
    fi
    log "purging Garage data (${STATE_DIR#"$REPO_ROOT"/}/garage; credentials kept)"
    rm -rf "$STATE_DIR/garage"
fi

log "stopped: ${STOPPED[*]:-none}"
if ((${#FAILED[@]})); then
    die "could not stop: ${FAILED[*]} (left in ${STARTED_FILE#"$REPO_ROOT"/})"
fi
