#!/usr/bin/env bash
# A three-node Garage cluster with replication factor 3 on this machine, beside the local
# stack's single node (3900-3903, untouched): node N has S3 on 127.0.0.1:39N0, RPC on 39N1 and
# the admin API on 39N3 (N = 1, 2, 3), metadata and data under $CLUSTER_DIR/garage/nN. One
# layout, one zone per node (so that each of the three copies of a block is on another node),
# buckets sportello-staging and sportello-archive and a key with access to both. Idempotent.
#
# Every write is acknowledged by a quorum of two of the three nodes: stop one (kill its pid in
# $CLUSTER_DIR/garage/nN/pid) and Sportello keeps reading and writing through the others.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
GARAGE_BIN=${GARAGE_BIN:-$(command -v garage || echo /root/.cargo/bin/garage)}
[[ -x $GARAGE_BIN ]] || die "garage not found (deploy/local/stack-up.sh builds it; or set GARAGE_BIN)"
BASE=$CLUSTER_DIR/garage
mkdir -p "$BASE"
chmod 700 "$BASE"
# The nodes' shared RPC secret, 32 bytes in hex.
if [[ ! -f $BASE/rpc_secret ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/rpc_secret")
fi

conf() { echo "$BASE/n$1/garage.toml"; }
gcli() {
    local n=$1
    shift
    NO_COLOR=1 "$GARAGE_BIN" -c "$(conf "$n")" "$@"
}

start_node() {
    local n=$1 dir=$BASE/n$1
    mkdir -p "$dir/meta" "$dir/data"
    cat >"$dir/garage.toml" <<CONF
# Written by deploy/cluster/garage-up.sh.
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:39${n}1"
rpc_public_addr = "127.0.0.1:39${n}1"
rpc_secret = "$(<"$BASE/rpc_secret")"

[s3_api]
api_bind_addr = "127.0.0.1:39${n}0"
s3_region = "garage"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:39${n}3"
CONF
    if pid_alive "$dir/pid" >/dev/null; then
        log "Garage node $n already running"
        return
    fi
    port_open "39${n}0" && die "port 39${n}0 is taken by something else"
    log "starting Garage node $n (S3 127.0.0.1:39${n}0)"
    NO_COLOR=1 setsid "$GARAGE_BIN" -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
}

for n in 1 2 3; do start_node "$n"; done
# `node id` reads the node's key from its metadata directory; `status` needs the daemon's RPC.
for n in 1 2 3; do wait_for 60 "Garage node $n (log: $BASE/n$n/garage.log)" gcli "$n" status; done

# Connect node 1 to the others (the membership then spreads by itself).
for n in 2 3; do
    gcli 1 node connect "$(gcli "$n" node id -q)" >/dev/null
done

# The layout: every node in its own zone, the same capacity, applied once.
if ! gcli 1 layout show 2>/dev/null | grep -q "^Current cluster layout version: [1-9]"; then
    for n in 1 2 3; do
        id=$(gcli "$n" node id -q)
        gcli 1 layout assign -z "dc$n" -c 1G "${id%%@*}" >/dev/null
    done
    gcli 1 layout apply --version 1 >/dev/null
    log "layout applied: 3 nodes, replication factor 3"
fi
wait_for 60 "Garage cluster health (no failed node)" bash -c "! NO_COLOR=1 '$GARAGE_BIN' -c '$(conf 1)' status 2>&1 | grep -q 'FAILED NODES'"

# Buckets and one key for both (the local stack gives each party its own; see stack-up.sh).
for bucket in sportello-staging sportello-archive; do
    gcli 1 bucket info "$bucket" >/dev/null 2>&1 || gcli 1 bucket create "$bucket" >/dev/null
done
if ! gcli 1 key info sportello-cluster >/dev/null 2>&1; then
    gcli 1 key create sportello-cluster >/dev/null
fi
for bucket in sportello-staging sportello-archive; do
    gcli 1 bucket allow --read --write "$bucket" --key sportello-cluster >/dev/null
done
gcli 1 key info --show-secret sportello-cluster | grep -E "Key ID|Secret key" >"$BASE/key.txt"
chmod 600 "$BASE/key.txt"
log "Garage cluster of 3 running: S3 127.0.0.1:3910, 3920, 3930; key in $BASE/key.txt"
