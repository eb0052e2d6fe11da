# Shared helpers for stack-up.sh and stack-down.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source it

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
# Machine-wide, not per checkout: every clone on this machine (a CI run's fresh clone too) finds
# the credentials and the Garage it started, instead of minting keys a running Garage rejects.
STATE_DIR="${SPORTELLO_STATE_DIR:-/var/lib/sportello/local-stack}"
STARTED_FILE="$STATE_DIR/started"
CREDENTIALS_FILE="$STATE_DIR/credentials.env"
GARAGE_CONF="$STATE_DIR/garage.toml"
GARAGE_PID="$STATE_DIR/garage.pid"
MAILDEV_PID="$STATE_DIR/maildev.pid"

log() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] warning: %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every second until it succeeds,
# or fail with a one-line error naming WHAT.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "$what did not come up within ${limit}s"
        fi
        sleep 1
    done
}

# pg_version: the newest PostgreSQL major version whose server is installed,
# preferring those with a "main" cluster; empty when there is none.
pg_version() {
    local f v all=() clustered=()
    for f in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $f ]] || continue
        v=${f#/usr/lib/postgresql/}
        v=${v%%/*}
        all+=("$v")
        if [[ -d /etc/postgresql/$v/main ]]; then
            clustered+=("$v")
        fi
    done
    if ((${#clustered[@]})); then
        printf '%s\n' "${clustered[@]}" | sort -V | tail -n 1
    elif ((${#all[@]})); then
        printf '%s\n' "${all[@]}" | sort -V | tail -n 1
    fi
}

# was_started NAME: this tooling started NAME (it is listed in .state/started).
was_started() {
    [[ -f $STARTED_FILE ]] && grep -qx "$1" "$STARTED_FILE"
}

mark_started() {
    was_started "$1" || printf '%s\n' "$1" >>"$STARTED_FILE"
}

unmark_started() {
    [[ -f $STARTED_FILE ]] || return 0
    local rest
    rest=$(grep -vx "$1" "$STARTED_FILE" || true)
    if [[ -n $rest ]]; then
        printf '%s\n' "$rest" >"$STARTED_FILE"
    else
        rm -f "$STARTED_FILE"
    fi
}

# pid_alive PIDFILE PATTERN: prints the pid recorded in PIDFILE when that
# process is alive and its command line contains PATTERN (guards against a
# recycled pid).
pid_alive() {
    local pidfile=$1 pattern=$2 pid
    [[ -f $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
    printf '%s' "$pid"
}
