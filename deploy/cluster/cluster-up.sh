#!/usr/bin/env bash
# All three on this machine: RabbitMQ (3 nodes), Garage (3 nodes, replication factor 3), a
# PostgreSQL standby of the local primary. Each script can also run alone; cluster-down.sh stops
# them. Not run by CI: it starts long-running services and copies the local database.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/rabbitmq-up.sh"
bash "$here/garage-up.sh"
bash "$here/postgres-standby-up.sh"
