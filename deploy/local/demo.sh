#!/usr/bin/env bash
# The main job: the local stack up, the fleet and the back-office simulator built and running,
# every sample practice submitted from the portal and the counter, the back offices answering
# (the simulator), the citizens answering the integration requests, every citizen's folder
# printed, and every sample checked against samples/expected.json (final state, reasons,
# emails received) with a one-screen summary. It exits non-zero when a process dies, when a
# practice does not arrive within 300 s (listing where each one waits), or when a sample ends
# otherwise than expected.
#
# The fleet and the simulator keep running afterwards (logs in the state directory,
# /var/lib/sportello/local-stack: fleet.log, backoffice-sim.log); stop both with
# `deploy/local/demo.sh --stop`. Running the demo again resubmits the same samples: they are
# the same practices (same idempotency keys), so the folders do not grow.
#
# Usage: deploy/local/demo.sh [--stop]     (as root)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLEET_PID="$STATE_DIR/fleet.pid"
FLEET_LOG="$STATE_DIR/fleet.log"
SIM_PID="$STATE_DIR/backoffice-sim.pid"
SIM_LOG="$STATE_DIR/backoffice-sim.log"
# Where the demo fleet serves the HTTP API.
LISTEN=${SPORTELLO_DEMO_LISTEN:-127.0.0.1:8080}
DAY_SECS=${SPORTELLO_DEMO_DAY_SECS:-2}

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
log "installing the pages' front-end packages (web/package-lock.json)"
(cd web && npm ci --no-audit --no-fund)
log "building sportello and the back-office simulator"
cargo build --locked -p sportello-fleet -p sportello-backoffice-sim --bins
SPORTELLO="$REPO_ROOT/target/debug/sportello"
SIMULATOR="$REPO_ROOT/target/debug/sportello-backoffice-sim"
for binary in "$SPORTELLO" "$SIMULATOR"; do
    [[ -x $binary ]] || die "the build did not produce ${binary#"$REPO_ROOT"/}"
done

# started NAME PID LOG: the process is still alive a moment after its start (a binary that
# cannot run, a bad configuration, a port in use all end it at once), or the demo stops here,
# naming it and showing its log.
started() {
    local name=$1 pid=$2 logfile=$3 i
    for i in 1 2 3 4 5 6; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 15 "$logfile" >&2 || true
            die "the $name exited right after its start; see $logfile"
        fi
        sleep 0.5
    done
}

log "migrating the database schema (as its owner; the fleet's role cannot)"
"$SPORTELLO" db migrate
log "setting every party's broker user and permissions (sportello broker users)"
"$SPORTELLO" broker users
"$SPORTELLO" topology apply
stop_fleet
log "starting the fleet: sportello run all, with the HTTP API on $LISTEN (log: $FLEET_LOG)"
# The procedure's day lasts DAY_SECS seconds here, so that the 30-day term of the silenzio-assenso
# sample (suolo_pubblico.dehors, which the simulator never answers) runs out within the demo.
log "the procedure's day lasts ${DAY_SECS}s in this demo (procedure.day_secs; 86400 in real life)"
SPORTELLO__HTTP__ENABLED=true SPORTELLO__HTTP__LISTEN=$LISTEN \
    SPORTELLO__PROCEDURE__DAY_SECS=$DAY_SECS SPORTELLO__PROCEDURE__TIMER_INTERVAL_SECS=1 \
    setsid "$SPORTELLO" run all >>"$FLEET_LOG" 2>&1 </dev/null &
echo $! >"$FLEET_PID"
started fleet "$(cat "$FLEET_PID")" "$FLEET_LOG"
stop_sim
log "starting the back-office simulator (behaviour: samples/backoffice-sim.toml, log: $SIM_LOG)"
setsid "$SIMULATOR" --behaviour samples/backoffice-sim.toml >>"$SIM_LOG" 2>&1 </dev/null &
echo $! >"$SIM_PID"
started "back-office simulator" "$(cat "$SIM_PID")" "$SIM_LOG"

# watch PHASE: progress until the phase's practices have arrived; fails at once when the fleet
# or the simulator dies, and after 300 s lists what is still on its way and why.
watch() {
    python3 "$LOCAL_DIR/demo_watch.py" wait "$1" --timeout 300 \
        --pid "fleet=$(cat "$FLEET_PID"):$FLEET_LOG" \
        --pid "back-office simulator=$(cat "$SIM_PID"):$SIM_LOG"
}

# Emails sent before this moment belong to an earlier run of the demo (see demo_watch.py).
RUN_STARTED=$(date +%s.%N)
log "submitting every sample"
"$SPORTELLO" submit samples/submissions/*.json >/dev/null
log "waiting until every practice has its outcome (or waits for the citizen or the counter)"
watch applications

log "the citizens answer the integration requests (samples/integrations/)"
"$SPORTELLO" submit samples/integrations/*.json >/dev/null
log "waiting until those practices, back at their office, have their outcome"
watch integrations

mapfile -t citizens < <(python3 -c 'import json, sys
print("\n".join(sorted({v["tax_code"] for v in json.load(open(sys.argv[1])).values()})))' \
    samples/expected.json)
for cf in "${citizens[@]}"; do
    echo
    "$SPORTELLO" folder "$cf"
done

log "checking every sample against samples/expected.json"
python3 "$LOCAL_DIR/demo_watch.py" check --since "$RUN_STARTED"
cat <<EOF

Where to look (the fleet and the simulator keep running; stop them: deploy/local/demo.sh --stop)
  the citizens' emails:  http://127.0.0.1:1080  (maildev)
  a citizen's folder:    target/debug/sportello folder ${citizens[0]}   (--json for JSON)
  the HTTP API:          http://$LISTEN/openapi.json, for instance
      curl -H "Authorization: Bearer \$(target/debug/sportello token --role operator --operator-id OP-BG-001)" \\
           http://$LISTEN/citizens/${citizens[0]}/practices
  logs:                  $FLEET_LOG, $SIM_LOG
EOF
SPORTELLO_OPERATOR_PASSWORD=sportello-demo-2026 "$SPORTELLO" operator add OP-BG-001 --name "Operatore demo" \
    --roles counter,protocol_officer,operations >/dev/null
echo "  the cruscotto:         http://$LISTEN/cruscotto   (OP-BG-001, password sportello-demo-2026)"
echo "  a citizen's area:      $("$SPORTELLO" token --role citizen --cf "${citizens[0]}" --issuer portal \
    --key "$STATE_DIR/portal-token.key" --valid-for 30m --link)"
