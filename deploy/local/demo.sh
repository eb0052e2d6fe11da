#!/usr/bin/env bash
# The main job: the local stack up, the fleet built and running, every sample practice
# submitted from the portal and the counter, the back offices answering (the simulator), the
# citizens answering the integration requests, and every citizen's folder printed.
#
# The fleet and the back-office simulator keep running afterwards (logs in the state directory,
# /var/lib/sportello/local-stack: fleet.log, backoffice-sim.log); stop both with `deploy/local/demo.sh --stop`. Running the
# demo again resubmits the same samples: they are the
# same practices (same idempotency keys), so the folders do not grow.
#
# Usage: deploy/local/demo.sh [--stop]     (as root)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLEET_PID="$STATE_DIR/fleet.pid"
FLEET_LOG="$STATE_DIR/fleet.log"
SIM_PID="$STATE_DIR/backoffice-sim.pid"
SIM_LOG="$STATE_DIR/backoffice-sim.log"

stop_fleet() {
    if [[ -f $FLEET_PID ]] && kill -0 "$(cat "$FLEET_PID")" 2>/dev/null; then
        log "stopping the fleet (SIGTERM: it finishes the messages in hand)"
        kill -TERM "$(cat "$FLEET_PID")"
        wait_for 60 "fleet shutdown" bash -c "! kill -0 $(cat "$FLEET_PID")"
    fi
    rm -f "$FLEET_PID"
}

# The back-office simulator stands in for the vendors' applications (samples/backoffice-sim).
stop_sim() {
    if [[ -f $SIM_PID ]] && kill -0 "$(cat "$SIM_PID")" 2>/dev/null; then
        log "stopping the back-office simulator"
        kill -TERM "$(cat "$SIM_PID")"
        wait_for 30 "simulator shutdown" bash -c "! kill -0 $(cat "$SIM_PID")"
    fi
    rm -f "$SIM_PID"
}

if [[ ${1:-} == --stop ]]; then
    stop_sim
    stop_fleet
    exit 0
fi

command -v cargo >/dev/null 2>&1 || [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]] ||
    die "cargo is missing: install the Rust toolchain (1.95) first"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

bash "$LOCAL_DIR/stack-up.sh"
cd "$REPO_ROOT"
log "building sportello"
cargo build --locked -p sportello-fleet --bin sportello -p sportello-backoffice-sim
SPORTELLO="$REPO_ROOT/target/debug/sportello"

log "setting every party's broker user and permissions (sportello broker users)"
"$SPORTELLO" broker users
"$SPORTELLO" topology apply
stop_fleet
log "starting the fleet: sportello run all (log: ${FLEET_LOG#"$REPO_ROOT"/})"
setsid "$SPORTELLO" run all >>"$FLEET_LOG" 2>&1 < /dev/null &
echo $! >"$FLEET_PID"
stop_sim
log "starting the back-office simulator (behaviour: samples/backoffice-sim.toml, log: ${SIM_LOG#"$REPO_ROOT"/})"
setsid "$REPO_ROOT/target/debug/sportello-backoffice-sim" --behaviour samples/backoffice-sim.toml \
    >>"$SIM_LOG" 2>&1 </dev/null &
echo $! >"$SIM_PID"

log "submitting every sample"
"$SPORTELLO" submit samples/submissions/*.json

mapfile -t citizens < <(grep -ho '"tax_code": *"[A-Z0-9]*"' samples/submissions/*.json |
    sed 's/.*"\([A-Z0-9]*\)"$/\1/' | sort -u)

# The folder's JSON, one practice's fields at six spaces: `integrates` comes before `state`.
# Counts the practices still on their way: an application until its outcome (or until it
# waits for the citizen or the counter), a citizen's integration until the office has it.
pending() {
    local cf
    for cf in "${citizens[@]}"; do
        "$SPORTELLO" folder "$cf" --json
    done | awk -v waiting_counts="${1:-0}" '
        /^      "integrates": / { answer = ($0 !~ /null/) }
        /^      "state": "(received|validated|registered|stored)"/ { n++; next }
        /^      "state": "(dispatched|in_progress)"/ { if (!answer) n++ }
        /^      "state": "integration_requested"/ { if (waiting_counts) n++ }
        END { print n + 0 }'
}

wait_for_outcomes() {
    local deadline=$((SECONDS + 300))
    while (( $(pending "$@") > 0 )); do
        kill -0 "$(cat "$FLEET_PID")" 2>/dev/null || die "the fleet stopped; see $FLEET_LOG"
        ((SECONDS < deadline)) || die "practices still waiting after 300s; see $FLEET_LOG"
        sleep 1
    done
}

log "waiting until every practice has its outcome (or waits for the citizen or the counter)"
wait_for_outcomes

log "the citizens answer the integration requests (samples/integrations/)"
"$SPORTELLO" submit samples/integrations/*.json
log "waiting until those practices, back at their office, have their outcome"
wait_for_outcomes 1

for cf in "${citizens[@]}"; do
    echo
    "$SPORTELLO" folder "$cf"
done
echo
log "${#citizens[@]} folders printed; the fleet is still running (stop: deploy/local/demo.sh --stop)"
log "JSON view of a folder: target/debug/sportello folder <CODICE FISCALE> --json"
