#!/usr/bin/env bash
# A PostgreSQL 15 primary and its streaming standby of their own, for the fault test
# (deploy/cluster/fault-test.sh): the primary on 127.0.0.1:5452, the standby on 127.0.0.1:5462,
# data under $CLUSTER_DIR/postgres-pair. Unlike postgres-standby-up.sh (a standby of this
# machine's own PostgreSQL), stopping this primary and promoting its standby touches nothing
# else on the machine: the fault test does both, so `--fresh` makes a new pair each time.
#
# The roles are the local stack's (sportello_owner, sportello_runtime, sportello), with the
# passwords of /var/lib/sportello/local-stack/credentials.env, so that sportello.toml's
# credentials work on either server.
#
# Usage: postgres-pair-up.sh [--fresh]      (as root)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
PGBIN=/usr/lib/postgresql/15/bin
[[ -x $PGBIN/initdb ]] || die "PostgreSQL 15 is not installed"
CREDENTIALS=${SPORTELLO_STATE_DIR:-/var/lib/sportello/local-stack}/credentials.env
[[ -r $CREDENTIALS ]] || die "$CREDENTIALS is missing: run deploy/local/stack-up.sh first"
# shellcheck disable=SC1090
source "$CREDENTIALS"
BASE=$CLUSTER_DIR/postgres-pair
PRIMARY=$BASE/primary
STANDBY=$BASE/standby
RUN=$BASE/run
as_pg() { (cd / && runuser -u postgres -- "$@"); }
running() { [[ -f $1/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

if [[ ${1:-} == --fresh ]]; then
    for dir in "$STANDBY" "$PRIMARY"; do
        if running "$dir"; then as_pg "$PGBIN/pg_ctl" -D "$dir" stop -m immediate >/dev/null; fi
    done
    rm -rf "$BASE"
fi
mkdir -p "$RUN"
chown postgres:postgres "$BASE" "$RUN"

if [[ ! -f $PRIMARY/PG_VERSION ]]; then
    log "initialising the pair's primary in $PRIMARY"
    as_pg "$PGBIN/initdb" -D "$PRIMARY" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        >"$BASE/initdb.log"
    cat >>"$PRIMARY/postgresql.conf" <<CONF
port = 5452
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
wal_level = replica
max_wal_senders = 5
hot_standby = on
max_connections = 200
CONF
    cat >"$PRIMARY/pg_hba.conf" <<HBA
local all all trust
local replication all trust
host all all 127.0.0.1/32 scram-sha-256
HBA
fi
if ! running "$PRIMARY"; then
    log "starting the pair's primary on 127.0.0.1:5452"
    as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$BASE/primary.log" -w start >/dev/null
fi
as_pg "$PGBIN/psql" -X -q -h "$RUN" -p 5452 -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET log_statement = 'none';
SELECT 'CREATE ROLE sportello_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello_owner')\gexec
ALTER ROLE sportello_owner WITH LOGIN CREATEDB NOCREATEROLE PASSWORD '$SPORTELLO_DB_OWNER_PASSWORD';
SELECT 'CREATE ROLE sportello_runtime NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello_runtime')\gexec
SELECT 'CREATE ROLE sportello' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello')\gexec
ALTER ROLE sportello WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$SPORTELLO_DB_PASSWORD';
GRANT sportello_runtime TO sportello;
SELECT 'CREATE DATABASE sportello OWNER sportello_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sportello')\gexec
SQL

if [[ ! -f $STANDBY/PG_VERSION ]]; then
    log "copying the primary into the standby (pg_basebackup, fast checkpoint)"
    as_pg "$PGBIN/pg_basebackup" -h "$RUN" -p 5452 -U postgres -D "$STANDBY" -R -X stream -c fast
    sed -i 's/^port = 5452$/port = 5462/' "$STANDBY/postgresql.conf"
fi
if ! running "$STANDBY"; then
    log "starting the standby on 127.0.0.1:5462 (streaming from 5452)"
    as_pg "$PGBIN/pg_ctl" -D "$STANDBY" -l "$BASE/standby.log" -w start >/dev/null
fi
wait_for 60 "the standby in recovery" bash -c \
    "[[ \$(runuser -u postgres -- '$PGBIN/psql' -XAtq -h '$RUN' -p 5462 -d postgres -c 'select pg_is_in_recovery()') == t ]]"
log "PostgreSQL pair: primary 127.0.0.1:5452, standby 127.0.0.1:5462 (postgres-pair-failover.sh promotes it)"
