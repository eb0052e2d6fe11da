#!/usr/bin/env bash
# Stops the fault test's PostgreSQL pair (postgres-pair-up.sh); `--purge` removes its data.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
PGBIN=/usr/lib/postgresql/15/bin
BASE=$CLUSTER_DIR/postgres-pair
for dir in "$BASE/standby" "$BASE/primary"; do
    if [[ -f $dir/postmaster.pid ]]; then
        (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir" stop -m fast >/dev/null) || true
        log "stopped PostgreSQL in $dir"
    fi
done
if [[ ${1:-} == --purge ]]; then rm -rf "$BASE"; log "removed $BASE"; fi
