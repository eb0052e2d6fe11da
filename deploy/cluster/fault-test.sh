#!/usr/bin/env bash
# The fault test on clusters (tests/cluster.rs): brings up RabbitMQ ×3, Garage ×3 and a fresh
# PostgreSQL primary/standby pair (the scripts beside this one), then runs the fleet on them
# with PRACTICES practices (default 2,000) while a RabbitMQ node is SIGKILLed (twice, another
# each time), a Garage node is stopped and the PostgreSQL primary gives way to its standby, and
# checks every promise at the end. Prints its figures. Not run by CI (it needs the clusters and
# takes minutes); the local stack (deploy/local/stack-up.sh) must be up for maildev and the
# credentials. Leaves the clusters running: deploy/cluster/cluster-down.sh stops them.
#
# Usage: deploy/cluster/fault-test.sh [PRACTICES]      (as root)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash deploy/cluster/rabbitmq-up.sh
bash deploy/cluster/garage-up.sh
bash deploy/cluster/postgres-pair-up.sh --fresh
log "running tests/cluster.rs with ${1:-2000} practices"
SPORTELLO_CLUSTER_PRACTICES=${1:-2000} cargo test --locked --test cluster -- --ignored --nocapture
