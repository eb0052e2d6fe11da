#!/usr/bin/env bash
# Failover to the standby of postgres-standby-up.sh: promotes it (pg_ctl promote), so that
# 127.0.0.1:5442 accepts writes, with every role, password and row the primary had replayed.
# Then point Sportello at it — same roles and passwords, another port:
#   SPORTELLO__DATABASE__URL=postgres://sportello:…@127.0.0.1:5442/sportello
#   (and database.owner_url likewise for `sportello db migrate`)
# The fleet's connections to the old primary fail, its work is retried (the handlers sort a
# lost connection as "retry"), and the processes restarted with the new URL carry on.
#
# A real failover fences the old primary first (stops it, or cuts it off) so that no client
# writes to two primaries. Here the old primary is this machine's shared PostgreSQL on 5432,
# which others use: it is left running, and only clients pointed at 5442 see the promoted one.
# A promoted standby follows the primary no more: cluster-down.sh --purge, then
# postgres-standby-up.sh, makes a fresh standby.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
PGBIN=/usr/lib/postgresql/15/bin
PORT=5442
BASE=$CLUSTER_DIR/postgres
DATA=$BASE/standby
as_pg() { runuser -u postgres -- "$@"; }
psql_standby() { as_pg "$PGBIN/psql" -h "$BASE/run" -p $PORT -XAtqc "$1" postgres; }

psql_standby "select 1" >/dev/null 2>&1 || die "no standby answers on port $PORT: run deploy/cluster/postgres-standby-up.sh"
if [[ $(psql_standby "select pg_is_in_recovery()") == f ]]; then
    log "127.0.0.1:$PORT is already a primary (promoted earlier)"
    exit 0
fi
# What the standby had when it was promoted: anything the primary committed after the last
# replayed WAL record is not there (asynchronous replication).
log "standby: received up to $(psql_standby "select coalesce(pg_last_wal_receive_lsn()::text, '-')"), replayed up to $(psql_standby "select pg_last_wal_replay_lsn()"), last transaction replayed at $(psql_standby "select coalesce(pg_last_xact_replay_timestamp()::text, '-')")"
log "promoting 127.0.0.1:$PORT"
as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 promote >/dev/null || die "pg_ctl promote failed; see $BASE/log/postgresql.log"
[[ $(psql_standby "select pg_is_in_recovery()") == f ]] || die "still in recovery after promote"
# A transaction id is handed out only to a server that may write.
psql_standby "select txid_current()" >/dev/null || die "the promoted server refuses writes"
log "127.0.0.1:$PORT is now a primary (timeline $((16#$(psql_standby "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")))); point database.url at it"
