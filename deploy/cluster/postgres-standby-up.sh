#!/usr/bin/env bash
# A streaming-replication standby of this machine's PostgreSQL 15 (the primary, on 5432): a
# new cluster on 127.0.0.1:5442, data under $CLUSTER_DIR/postgres/standby, made with
# pg_basebackup and kept up to date by WAL streaming; read-only (hot standby) until
# postgres-failover.sh promotes it. Idempotent: a running standby is kept.
#
# What it changes on the primary, and nothing else: one pg_hba.conf line, marked
# `# sportello-cluster`, letting the local `postgres` user open replication connections over
# the Unix socket (peer authentication: no new role, no password), then a configuration reload
# (sessions are not disturbed). cluster-down.sh removes the line again. No replication slot is
# created, so a stopped or forgotten standby never makes the primary keep WAL; the price is
# that a standby left behind by more than the primary's WAL (max_wal_size) must be rebuilt
# (remove its directory and run this again).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
PGBIN=/usr/lib/postgresql/15/bin
PRIMARY_PORT=5432
PORT=5442
BASE=$CLUSTER_DIR/postgres
DATA=$BASE/standby
[[ -x $PGBIN/pg_basebackup ]] || die "PostgreSQL 15 is not installed"
as_pg() { runuser -u postgres -- "$@"; }
psql_primary() { as_pg "$PGBIN/psql" -h /var/run/postgresql -p $PRIMARY_PORT -XAtqc "$1" postgres; }
psql_standby() { as_pg "$PGBIN/psql" -h "$BASE/run" -p $PORT -XAtqc "$1" postgres; }

psql_primary "select 1" >/dev/null || die "the primary PostgreSQL does not answer on port $PRIMARY_PORT"
[[ $(psql_primary "show server_version_num") == 15* ]] || die "the primary is not PostgreSQL 15"
[[ $(psql_primary "show wal_level") != minimal ]] || die "the primary has wal_level = minimal: no streaming replication"

if [[ -f $DATA/postmaster.pid ]] && psql_standby "select 1" >/dev/null 2>&1; then
    if [[ $(psql_standby "select pg_is_in_recovery()") == t ]]; then
        log "standby already running on 127.0.0.1:$PORT"
    else
        log "127.0.0.1:$PORT already running, as a primary (promoted)"
    fi
    exit 0
fi
port_open $PORT && die "port $PORT is taken by something else"

# Replication connections from the local postgres user.
HBA=$(psql_primary "show hba_file")
if ! grep -q "# sportello-cluster$" "$HBA"; then
    log "allowing local replication connections on the primary ($HBA) and reloading it"
    # First line: pg_hba.conf is read top down, first match wins.
    sed -i "1i local replication postgres peer # sportello-cluster" "$HBA"
    psql_primary "select pg_reload_conf()" >/dev/null
fi

mkdir -p "$BASE"
chown postgres:postgres "$BASE"
chmod 700 "$BASE"
as_pg mkdir -p "$BASE/run" "$BASE/log"
if [[ ! -f $DATA/PG_VERSION ]]; then
    rm -rf "$DATA"
    log "copying the primary with pg_basebackup into $DATA ($(psql_primary "select pg_size_pretty(sum(pg_database_size(datname))) from pg_database"); WAL streamed alongside)"
    # -R: writes standby.signal and primary_conninfo, so the copy starts as a standby.
    # --checkpoint=spread: the primary's checkpoint is not forced (no I/O burst for the others
    # using it), so the copy starts only at its next scheduled checkpoint: up to
    # checkpoint_timeout (5 minutes) of waiting the first time.
    as_pg "$PGBIN/pg_basebackup" -h /var/run/postgresql -p $PRIMARY_PORT -U postgres \
        -D "$DATA" -X stream -R --checkpoint=spread >/dev/null ||
        { rm -rf "$DATA"; die "pg_basebackup failed"; }
fi
# Debian keeps the primary's configuration in /etc, outside the data directory: the standby
# gets its own. Hot-standby settings must be at least the primary's.
setting() { psql_primary "show $1"; }
cat >"$DATA/postgresql.conf" <<CONF
# Written by deploy/cluster/postgres-standby-up.sh.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BASE/run'
hot_standby = on
max_connections = $(setting max_connections)
max_worker_processes = $(setting max_worker_processes)
max_wal_senders = $(setting max_wal_senders)
max_prepared_transactions = $(setting max_prepared_transactions)
max_locks_per_transaction = $(setting max_locks_per_transaction)
shared_buffers = 128MB
logging_collector = off
CONF
# After a failover Sportello logs in over TCP with its roles' passwords (replicated with the
# rest): md5 also accepts SCRAM-hashed passwords.
cat >"$DATA/pg_hba.conf" <<CONF
# Written by deploy/cluster/postgres-standby-up.sh.
local all postgres peer
local all all peer
host all all 127.0.0.1/32 md5
CONF
chown postgres:postgres "$DATA/postgresql.conf" "$DATA/pg_hba.conf"
touch "$BASE/log/postgresql.log" && chown postgres:postgres "$BASE/log/postgresql.log"
log "starting the standby on 127.0.0.1:$PORT"
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$BASE/log/postgresql.log" -w -t 120 start >/dev/null ||
    die "the standby did not start; see $BASE/log/postgresql.log"
if [[ $(psql_standby "select pg_is_in_recovery()") != t ]]; then
    log "running on 127.0.0.1:$PORT as a primary: it was promoted earlier and follows the primary no more (cluster-down.sh --purge, then this script, makes a fresh standby)"
    exit 0
fi
streaming() { [[ $(psql_standby "select status from pg_stat_wal_receiver") == streaming ]]; }
wait_for 60 "WAL streaming from the primary" streaming
log "standby streaming on 127.0.0.1:$PORT (replayed up to $(psql_standby "select pg_last_wal_replay_lsn()"), primary at $(psql_primary "select pg_current_wal_lsn()"))"
