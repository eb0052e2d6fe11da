#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, beside its own broker (which keeps 5672, 15672,
# 25672 and its data untouched): nodes sportello-c1..3@localhost, AMQP on 5681..5683, management
# on 15681..15683, inter-node (distribution) on 25681..25683, data and logs under
# $CLUSTER_DIR/rabbitmq/cN. The nodes share an Erlang cookie of their own (HOME is their data
# directory, so root's and the system broker's cookies are neither read nor written) and form
# the cluster by themselves from the classic peer-discovery list. Idempotent: running nodes are
# kept. Quorum queues (every Sportello work queue) are replicated on all three.
#
# Then point Sportello at it, e.g. broker.url = "amqp://127.0.0.1:5681/%2f" and
# broker.admin.management_url = "http://127.0.0.1:15681" (the admin user below).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
RMQ_BIN=/usr/lib/rabbitmq/bin
[[ -x $RMQ_BIN/rabbitmq-server ]] || die "RabbitMQ is not installed (apt-get install rabbitmq-server)"
BASE=$CLUSTER_DIR/rabbitmq
mkdir -p "$BASE"
chmod 700 "$BASE"
if [[ ! -f $BASE/.erlang.cookie ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/.erlang.cookie")
fi
if [[ ! -f $BASE/admin.password ]]; then
    (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/admin.password")
fi

node() { echo "sportello-c$1@$HOST"; }

# rmqctl N ARGS...: rabbitmqctl against node N with the cluster's cookie.
rmqctl() {
    local n=$1
    shift
    HOME=$BASE "$RMQ_BIN/rabbitmqctl" -n "$(node "$n")" "$@"
}

start_node() {
    local n=$1 dir=$BASE/c$1
    mkdir -p "$dir"
    if pid_alive "$dir/pid" >/dev/null && rmqctl "$n" status >/dev/null 2>&1; then
        log "RabbitMQ $(node "$n") already running"
        return
    fi
    port_open $((5680 + n)) && die "port $((5680 + n)) is taken by something else"
    cat >"$dir/rabbitmq.conf" <<CONF
# Written by deploy/cluster/rabbitmq-up.sh.
listeners.tcp.default = 127.0.0.1:$((5680 + n))
management.tcp.port = $((15680 + n))
management.tcp.ip = 127.0.0.1
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $(node 1)
cluster_formation.classic_config.nodes.2 = $(node 2)
cluster_formation.classic_config.nodes.3 = $(node 3)
# A partitioned minority stops serving instead of diverging.
cluster_partition_handling = pause_minority
loopback_users = none
CONF
    echo "[rabbitmq_management]." >"$dir/enabled_plugins"
    log "starting RabbitMQ $(node "$n") (AMQP 127.0.0.1:$((5680 + n)))"
    HOME=$BASE \
        RABBITMQ_NODENAME=$(node "$n") \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_DIST_PORT=$((25680 + n)) \
        RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf \
        RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins \
        RABBITMQ_MNESIA_BASE=$dir/mnesia \
        RABBITMQ_LOG_BASE=$dir/log \
        RABBITMQ_PID_FILE=$dir/rabbit.pid \
        setsid "$RMQ_BIN/rabbitmq-server" >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
}

for n in 1 2 3; do start_node "$n"; done
for n in 1 2 3; do
    wait_for 120 "RabbitMQ $(node "$n") (log: $BASE/c$n/log)" rmqctl "$n" await_startup
done
# Peer discovery joins the nodes on their first boot; a node that came up alone (started before
# the others answered) is joined here.
for n in 2 3; do
    if ! rmqctl 1 cluster_status --formatter json | grep -q "\"$(node "$n")\""; then
        log "joining $(node "$n") to $(node 1)"
        rmqctl "$n" stop_app >/dev/null
        rmqctl "$n" join_cluster "$(node 1)" >/dev/null
        rmqctl "$n" start_app >/dev/null
    fi
done
running=$(rmqctl 1 cluster_status --formatter json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')
[[ $running == 3 ]] || die "the cluster has $running running nodes, not 3"
# An administrator for `sportello broker users` (guest is refused by Sportello anyway).
# Added unless it exists (a node just restarted may not list its users yet: ask only on failure).
if ! rmqctl 1 add_user sportello-admin "$(<"$BASE/admin.password")" >/dev/null 2>&1; then
    wait_for 30 "the administrator sportello-admin on $(node 1)" \
        bash -c "HOME='$BASE' '$RMQ_BIN/rabbitmqctl' -n '$(node 1)' list_users -q | grep -q '^sportello-admin'"
fi
rmqctl 1 set_user_tags sportello-admin administrator >/dev/null
rmqctl 1 set_permissions -p / sportello-admin '.*' '.*' '.*' >/dev/null
rmqctl 1 delete_user guest >/dev/null 2>&1 || true
log "RabbitMQ cluster of 3 running: AMQP 127.0.0.1:5681-5683, management 127.0.0.1:15681-15683"
log "administrator: sportello-admin, password in $BASE/admin.password"
