# Shared by deploy/cluster/*.sh: where the clusters keep their state, logging, waiting.
# Everything lives under $CLUSTER_DIR (default /var/lib/sportello/cluster); nothing of the
# machine's own services (RabbitMQ on 5672, PostgreSQL on 5432, Garage on 3900) is touched, and
# the stop script ends only the processes whose pid files are there.
set -euo pipefail
CLUSTER_DIR=${SPORTELLO_CLUSTER_DIR:-/var/lib/sportello/cluster}
HOST=localhost

log() { echo "cluster: $*"; }
die() { echo "cluster: ERROR: $*" >&2; exit 1; }

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every second until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    for ((i = 0; i < secs; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "$what not ready after ${secs}s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE: the pid in FILE if that process runs.
pid_alive() {
    local pid
    [[ -f $1 ]] && pid=$(<"$1") && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (the clusters' data directories are under $CLUSTER_DIR)"; }
