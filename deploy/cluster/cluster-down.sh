#!/usr/bin/env bash
# Stops what deploy/cluster/*-up.sh started — the three RabbitMQ nodes, the three Garage nodes,
# the PostgreSQL standby and the fault test's PostgreSQL pair — each by its own pid file or
# control command, never by name, and removes the primary's `# sportello-cluster` pg_hba.conf
# line. The machine's own RabbitMQ, PostgreSQL and Garage are not touched. Data is kept for the
# next start unless --purge.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
purge=0
[[ ${1:-} == --purge ]] && purge=1

# RabbitMQ: a clean stop through rabbitmqctl (the node leaves its quorum queues in order), the
# pid file as a fallback.
RMQ=$CLUSTER_DIR/rabbitmq
for n in 3 2 1; do
    dir=$RMQ/c$n
    [[ -d $dir ]] || continue
    if pid=$(pid_alive "$dir/pid"); then
        log "stopping RabbitMQ sportello-c$n@$HOST"
        HOME=$RMQ timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -n "sportello-c$n@$HOST" stop >/dev/null 2>&1 ||
            kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    rm -f "$dir/pid"
done

GARAGE=$CLUSTER_DIR/garage
for n in 1 2 3; do
    dir=$GARAGE/n$n
    if pid=$(pid_alive "$dir/pid"); then
        log "stopping Garage node $n (pid $pid)"
        kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    rm -f "$dir/pid"
done

PG=$CLUSTER_DIR/postgres
if [[ -f $PG/standby/postmaster.pid ]]; then
    log "stopping the PostgreSQL standby (port 5442)"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG/standby" -m fast -w stop >/dev/null || true
fi
# The fault test's own pair (postgres-pair-up.sh), if it ran.
bash "$(dirname "${BASH_SOURCE[0]}")/postgres-pair-down.sh"

HBA=$(runuser -u postgres -- psql -h /var/run/postgresql -p 5432 -XAtqc "show hba_file" postgres 2>/dev/null || true)
if [[ -n $HBA ]] && grep -q "# sportello-cluster$" "$HBA"; then
    log "removing the replication line from $HBA and reloading the primary"
    sed -i "/# sportello-cluster$/d" "$HBA"
    runuser -u postgres -- psql -h /var/run/postgresql -p 5432 -XAtqc "select pg_reload_conf()" postgres >/dev/null
fi

if ((purge)); then
    log "removing $CLUSTER_DIR"
    rm -rf "$CLUSTER_DIR"
fi
log "stopped"
