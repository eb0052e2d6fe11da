#!/usr/bin/env bash
# The failover of the fault test's PostgreSQL pair (postgres-pair-up.sh): the primary on 5452
# stops at once (as a crashed server would: immediate shutdown) and the standby on 5462 is
# promoted; a fleet with `database.failover_hosts = ["127.0.0.1:5462"]` follows by itself.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
PGBIN=/usr/lib/postgresql/15/bin
BASE=$CLUSTER_DIR/postgres-pair
as_pg() { (cd / && runuser -u postgres -- "$@"); }
[[ -f $BASE/standby/PG_VERSION ]] || die "no pair: run postgres-pair-up.sh first"
log "stopping the primary (5452) at once"
as_pg "$PGBIN/pg_ctl" -D "$BASE/primary" stop -m immediate >/dev/null || true
log "promoting the standby (5462)"
as_pg "$PGBIN/pg_ctl" -D "$BASE/standby" promote -w >/dev/null
log "the standby is the primary now"
