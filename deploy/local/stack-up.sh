#!/usr/bin/env bash
# Brings up the local stack Sportello needs (RabbitMQ, PostgreSQL, Garage,
# maildev), installing what is missing, and writes <repo>/sportello.toml.
#
# Idempotent: a service that already answers on its port is reused, never
# restarted. Services this script starts are listed in <state>/started, so that
# stack-down.sh stops those and only those. Secrets are generated once and kept
# in <state>/credentials.env (state: /var/lib/sportello/local-stack,
# or $SPORTELLO_STATE_DIR) (mode 600); they are never printed.
#
# Usage: deploy/local/stack-up.sh        (as root, on Debian 12)
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"

REUSED=()
STARTED=()
APT_UPDATED=0
APT_LOG="$STATE_DIR/apt.log"

# ---------------------------------------------------------------- helpers ---

apt_install() {
    log "installing $* (apt-get; log: ${APT_LOG#"$REPO_ROOT"/})"
    if ((APT_UPDATED == 0)); then
        apt-get update >>"$APT_LOG" 2>&1 || die "apt-get update failed; see $APT_LOG"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$APT_LOG" 2>&1 ||
        die "apt-get install $* failed; see $APT_LOG"
}

reuse() { # reuse NAME WHAT: note that NAME already answers and is left as it is
    if was_started "$1"; then
        log "$2 already answers (started by an earlier stack-up.sh run): keeping it"
    else
        log "$2 already answers: reusing it"
    fi
    REUSED+=("$1")
}

need_cmd() { # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

rand_hex() { # rand_hex BYTES
    od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# ensure_secret NAME BYTES [PREFIX]: keep NAME from credentials.env, or
# generate it once and append it there.
ensure_secret() {
    local name=$1 bytes=$2 prefix=${3:-}
    if [[ -z ${!name:-} ]]; then
        printf -v "$name" '%s%s' "$prefix" "$(rand_hex "$bytes")"
        printf '%s=%s\n' "$name" "${!name}" >>"$CREDENTIALS_FILE"
    fi
}

toml_str() { # a TOML basic string with quotes and backslashes escaped
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

find_tool() { # find_tool NAME: PATH, then root's and $CARGO_HOME's cargo bin
    local c
    for c in "$(command -v "$1" 2>/dev/null || true)" "/root/.cargo/bin/$1" \
        "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/$1"; do
        if [[ -n $c && -x $c ]]; then
            printf '%s' "$c"
            return 0
        fi
    done
    return 1
}

# start_bg NAME PIDFILE LOGFILE COMMAND...: run COMMAND detached (own session,
# immune to hangups), output appended to LOGFILE, pid written to PIDFILE.
start_bg() {
    local name=$1 pidfile=$2 logfile=$3
    shift 3
    log "starting $name (log: ${logfile#"$REPO_ROOT"/})"
    printf '\n=== %s started by stack-up.sh at %s ===\n' "$name" "$(date -Is)" >>"$logfile"
    setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$pidfile"
}

# wait_pid PID LIMIT WHAT LOGFILE CHECK...: like wait_for, but gives up at
# once, with the log's tail, if the process PID dies.
wait_pid() {
    local pid=$1 limit=$2 what=$3 logfile=$4
    shift 4
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 15 "$logfile" >&2 || true
            die "$what exited during startup; see $logfile"
        fi
        if ((SECONDS >= deadline)); then
            die "$what did not become ready within ${limit}s; see $logfile"
        fi
        sleep 1
    done
}

# --------------------------------------------------------------- state ---

[[ $EUID -eq 0 ]] || die "run as root (it installs packages and starts services)"
mkdir -p "$STATE_DIR"
chmod 700 "$STATE_DIR"
umask 077

touch "$CREDENTIALS_FILE"
chmod 600 "$CREDENTIALS_FILE"
# shellcheck source=/dev/null
source "$CREDENTIALS_FILE"
ensure_secret SPORTELLO_DB_PASSWORD 16
ensure_secret SPORTELLO_DB_OWNER_PASSWORD 16
ensure_secret GARAGE_ACCESS_KEY 12 GK
ensure_secret GARAGE_SECRET_KEY 32
ensure_secret GARAGE_RPC_SECRET 32
[[ $SPORTELLO_DB_PASSWORD =~ ^[0-9a-f]{32}$ ]] || die "SPORTELLO_DB_PASSWORD in $CREDENTIALS_FILE is not 32 hex digits"
[[ $SPORTELLO_DB_OWNER_PASSWORD =~ ^[0-9a-f]{32}$ ]] || die "SPORTELLO_DB_OWNER_PASSWORD in $CREDENTIALS_FILE is not 32 hex digits"
[[ $GARAGE_ACCESS_KEY =~ ^GK[0-9a-f]{24}$ ]] || die "GARAGE_ACCESS_KEY in $CREDENTIALS_FILE is not GK + 24 hex digits"
[[ $GARAGE_SECRET_KEY =~ ^[0-9a-f]{64}$ ]] || die "GARAGE_SECRET_KEY in $CREDENTIALS_FILE is not 64 hex digits"
[[ $GARAGE_RPC_SECRET =~ ^[0-9a-f]{64}$ ]] || die "GARAGE_RPC_SECRET in $CREDENTIALS_FILE is not 64 hex digits"

need_cmd curl curl
# The tests check every segnatura's signature (xmlsec1) and well-formedness (xmllint).
need_cmd xmlsec1 xmlsec1
need_cmd xmllint libxml2-utils

# ------------------------------------------------------------ RabbitMQ ---

# rabbitmq_open_files: the open-files limit of the running broker, empty when unknown.
# rabbitmq_open_files [soft|hard]: the running broker's limit on open files.
rabbitmq_open_files() {
    local pid field=4
    [[ ${1:-soft} == hard ]] && field=5
    pid=$(pgrep -f 'beam.smp.*rabbit' | head -n 1) || return 0
    awk -v f="$field" '/^Max open files/ { print $f }' "/proc/$pid/limits" 2>/dev/null || true
}

up_rabbitmq() {
    if port_open 5672; then
        reuse rabbitmq "RabbitMQ on 127.0.0.1:5672"
        local limit
        limit=$(rabbitmq_open_files)
        # Seen here: a broker started with 1024 file handles stopped answering AMQP (its
        # sockets piling up in CLOSE-WAIT) once a few hundred quorum queues existed.
        if [[ $limit =~ ^[0-9]+$ ]] && ((limit < 8192)); then
            # The soft limit can rise to the hard one without privileges beyond the broker's.
            local hard
            hard=$(rabbitmq_open_files hard)
            [[ $hard =~ ^[0-9]+$ ]] || hard=65536
            warn "the running RabbitMQ may open only $limit files; quorum queues need more: restart it with a higher limit (add 'ulimit -n $hard' to /etc/rabbitmq/rabbitmq-env.conf, then rabbitmqctl stop; rabbitmq-server -detached)"
        fi
        return
    fi
    # RabbitMQ budgets its file handles from the open-files limit, and every quorum queue takes
    # a few: at the usual 1024 a handful of test namespaces (~60 queues each) use the budget up
    # and new connections hang. The server runs as the rabbitmq user through su, which resets
    # the limit, so it is raised where the server reads its environment, before any start.
    local env_file=/etc/rabbitmq/rabbitmq-env.conf
    if ! grep -qs '^ulimit -n' "$env_file"; then
        mkdir -p /etc/rabbitmq
        printf '%s\n' '# Added by sportello deploy/local/stack-up.sh: quorum queues need file handles.' \
            'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true' >>"$env_file"
    fi
    command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
    if ! port_open 5672; then # the package's postinst may have started it
        log "starting RabbitMQ"
        rabbitmq-server -detached >>"$STATE_DIR/rabbitmq-start.log" 2>&1 ||
            warn "rabbitmq-server -detached returned an error (see $STATE_DIR/rabbitmq-start.log); waiting anyway"
    fi
    wait_for 120 "RabbitMQ on 127.0.0.1:5672 (logs: /var/log/rabbitmq/)" port_open 5672
    mark_started rabbitmq
    STARTED+=(rabbitmq)
}

# ---------------------------------------------------------- PostgreSQL ---

up_postgres() {
    local ver port="" status=""
    if port_open 5432; then
        reuse postgresql "PostgreSQL on 127.0.0.1:5432"
    else
        ver=$(pg_version)
        if [[ -z $ver ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
            apt_install postgresql
            ver=$(pg_version)
        fi
        [[ -n $ver ]] || die "no PostgreSQL server found under /usr/lib/postgresql after installing it"
        if [[ ! -d /etc/postgresql/$ver/main ]]; then
            log "creating PostgreSQL $ver cluster 'main'"
            pg_createcluster "$ver" main >>"$STATE_DIR/postgres-start.log" 2>&1 ||
                die "pg_createcluster $ver main failed; see $STATE_DIR/postgres-start.log"
        fi
        # pg_createcluster picks the next free port (5433, ...) when 5432 was
        # busy at install time: the application expects 5432.
        read -r port status < <(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { print $3, $4 }') || true
        if [[ ${status:-} == online* ]]; then
            die "PostgreSQL $ver/main is running on port ${port:-?}, not 5432: set port = 5432 in /etc/postgresql/$ver/main/postgresql.conf and restart it"
        fi
        if [[ -n ${port:-} && $port != 5432 ]]; then
            log "PostgreSQL $ver/main is configured for port $port: setting it to 5432"
            pg_conftool "$ver" main set port 5432
        fi
        if ! port_open 5432; then
            log "starting PostgreSQL $ver"
            pg_ctlcluster --skip-systemctl-redirect "$ver" main start >>"$STATE_DIR/postgres-start.log" 2>&1 ||
                die "pg_ctlcluster $ver main start failed; see $STATE_DIR/postgres-start.log"
        fi
        wait_for 60 "PostgreSQL $ver on 127.0.0.1:5432 (logs: /var/log/postgresql/)" port_open 5432
        mark_started postgresql
        STARTED+=(postgresql)
    fi

    # Roles and database, as the postgres superuser over the Unix socket (works with trust
    # and with peer auth): the owner holds the schema and runs the migrations; the runtime
    # login (what the fleet connects as) is a member of sportello_runtime, the group the
    # migrations grant table by table. An older stack's sportello role owned everything:
    # ownership moves to the owner. Statement logging is switched off for this session so the
    # passwords never land in the server log.
    (cd / && runuser -u postgres -- psql -X -q -p 5432 -d postgres -v ON_ERROR_STOP=1) >/dev/null <<SQL ||
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SELECT 'CREATE ROLE sportello_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello_owner')\gexec
ALTER ROLE sportello_owner WITH LOGIN CREATEDB NOCREATEROLE PASSWORD '$SPORTELLO_DB_OWNER_PASSWORD';
SELECT 'CREATE ROLE sportello_runtime NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello_runtime')\gexec
SELECT 'CREATE ROLE sportello' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sportello')\gexec
ALTER ROLE sportello WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$SPORTELLO_DB_PASSWORD';
GRANT sportello_runtime TO sportello;
SELECT 'CREATE DATABASE sportello OWNER sportello_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sportello')\gexec
ALTER DATABASE sportello OWNER TO sportello_owner;
\connect sportello
SET log_statement = 'none';
REASSIGN OWNED BY sportello TO sportello_owner;
ALTER SCHEMA public OWNER TO sportello_owner;
SQL
        die "could not create the sportello roles/database (psql as the postgres user failed)"

    PGPASSWORD=$SPORTELLO_DB_PASSWORD psql -X -q -w -h 127.0.0.1 -p 5432 -U sportello -d sportello \
        -Atc 'SELECT 1' >/dev/null 2>&1 ||
        die "role sportello cannot log in over TCP 127.0.0.1:5432 with its password (check pg_hba.conf)"
    PGPASSWORD=$SPORTELLO_DB_OWNER_PASSWORD psql -X -q -w -h 127.0.0.1 -p 5432 -U sportello_owner -d sportello \
        -Atc 'SELECT 1' >/dev/null 2>&1 ||
        die "role sportello_owner cannot log in over TCP 127.0.0.1:5432 with its password (check pg_hba.conf)"
}

# -------------------------------------------------------------- Garage ---

# garage_s3 CURL-ARGS...: a SigV4-signed S3 request with this stack's key. The
# key travels in a curl config read from a pipe, never on a command line.
garage_s3() {
    curl -sf -K <(printf 'user = "%s:%s"\n' "$GARAGE_ACCESS_KEY" "$GARAGE_SECRET_KEY") \
        --aws-sigv4 "aws:amz:garage:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# The key can list, write, read back and delete in the bucket.
garage_s3_ready() {
    local url=http://127.0.0.1:3900/sportello probe
    probe=".stack-up-probe-$$"
    garage_s3 "$url?list-type=2&max-keys=1" >/dev/null &&
        garage_s3 -X PUT --data-binary ok "$url/$probe" >/dev/null &&
        [[ $(garage_s3 "$url/$probe") == ok ]] &&
        garage_s3 -X DELETE "$url/$probe" >/dev/null
}

garage_ready() {
    port_open 3900 &&
        "$GARAGE_BIN" -c "$GARAGE_CONF" bucket info sportello &&
        garage_s3_ready
}

write_garage_conf() {
    mkdir -p "$STATE_DIR/garage/meta" "$STATE_DIR/garage/data"
    cat >"$GARAGE_CONF.tmp" <<EOF
# Written by deploy/local/stack-up.sh; regenerated on every run.
metadata_dir = $(toml_str "$STATE_DIR/garage/meta")
data_dir = $(toml_str "$STATE_DIR/garage/data")
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret = "$GARAGE_RPC_SECRET"

[s3_api]
api_bind_addr = "127.0.0.1:3900"
s3_region = "garage"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:3903"
EOF
    mv -f "$GARAGE_CONF.tmp" "$GARAGE_CONF"
}

install_garage() {
    local cargo buildlog="$STATE_DIR/garage-build.log"
    cargo=$(find_tool cargo) ||
        die "Garage is not installed and cargo was not found: install Rust (rustup) or put a garage 2.5 binary on PATH"
    command -v cc >/dev/null 2>&1 || apt_install build-essential pkg-config
    log "Garage not found: building garage 2.5.0 with cargo install (about 12 minutes on 2 cores; log: ${buildlog#"$REPO_ROOT"/})"
    if ! "$cargo" install --locked garage@2.5.0 --no-default-features --features bundled-libs,sqlite >"$buildlog" 2>&1; then
        tail -n 20 "$buildlog" >&2 || true
        die "cargo install garage@2.5.0 failed; see $buildlog"
    fi
    GARAGE_BIN=$(find_tool garage) || die "cargo install finished but no garage binary was found"
}

up_garage() {
    local pid
    write_garage_conf
    if port_open 3900; then
        wait_for 20 "S3 access to bucket sportello with this stack's key on 127.0.0.1:3900 (is port 3900 held by a Garage this script did not configure?)" \
            garage_s3_ready
        reuse garage "Garage on 127.0.0.1:3900"
        return
    fi
    GARAGE_BIN=$(find_tool garage) || install_garage
    if pid=$(pid_alive "$GARAGE_PID" garage); then
        log "Garage (pid $pid) is running but not answering yet: waiting for it"
    else
        GARAGE_DEFAULT_ACCESS_KEY=$GARAGE_ACCESS_KEY \
            GARAGE_DEFAULT_SECRET_KEY=$GARAGE_SECRET_KEY \
            GARAGE_DEFAULT_BUCKET=sportello \
            NO_COLOR=1 \
            start_bg Garage "$GARAGE_PID" "$STATE_DIR/garage.log" \
            "$GARAGE_BIN" -c "$GARAGE_CONF" server --single-node --default-bucket
        pid=$(<"$GARAGE_PID")
    fi
    wait_pid "$pid" 60 "Garage (bucket sportello on 127.0.0.1:3900)" "$STATE_DIR/garage.log" garage_ready
    mark_started garage
    STARTED+=(garage)
}

# ------------------------------------------------- Garage: buckets and keys ---

# Each party's bucket rights: staging for uploads and large documents on their way, the archive
# for what is registered. `operations` is the stack's first key (the CLI's); the portal may
# only write uploads into staging, never read them back nor reach the archive.
GARAGE_PARTIES=(
    "operations  staging:read,write archive:read,write"
    "portal      staging:write"
    "intake      staging:read,write"
    "validation  staging:read"
    "storage     staging:read,write archive:read,write"
    "dispatch    archive:read"
    "returns     archive:read,write"
    "notification archive:read"
    "protocol    archive:read,write"
    "api         staging:read,write archive:read"
)
STAGING_BUCKET=sportello-staging
ARCHIVE_BUCKET=sportello-archive

garage_cli() { "$GARAGE_BIN" -c "$GARAGE_CONF" "$@"; }

# party_key_var PARTY: the credentials.env names of PARTY's key id and secret.
party_key_var() { printf 'GARAGE_%s_KEY' "${1^^}"; }

up_garage_parties() {
    local entry party grants grant bucket rights flags id_var secret_var id
    GARAGE_BIN=${GARAGE_BIN:-$(find_tool garage)} || die "the garage command was not found"
    for bucket in "$STAGING_BUCKET" "$ARCHIVE_BUCKET"; do
        garage_cli bucket info "$bucket" >/dev/null 2>&1 || garage_cli bucket create "$bucket" >/dev/null ||
            die "garage could not create bucket $bucket"
    done
    for entry in "${GARAGE_PARTIES[@]}"; do
        read -r party grants <<<"$entry"
        if [[ $party == operations ]]; then
            id=$GARAGE_ACCESS_KEY
        else
            id_var="$(party_key_var "$party")_ID" secret_var="$(party_key_var "$party")_SECRET"
            ensure_secret "$id_var" 12 GK
            ensure_secret "$secret_var" 32
            id=${!id_var}
            garage_cli key info "$id" >/dev/null 2>&1 ||
                garage_cli key import --yes -n "sportello-$party" "$id" "${!secret_var}" >/dev/null ||
                die "garage could not import the $party key"
        fi
        # Rights are set from scratch on every run, so a right taken away here is gone there.
        for bucket in "$STAGING_BUCKET" "$ARCHIVE_BUCKET"; do
            garage_cli bucket deny --read --write --owner "$bucket" --key "$id" >/dev/null ||
                die "garage could not reset the $party key's rights on $bucket"
        done
        for grant in $grants; do
            bucket=${grant%%:*} rights=${grant#*:} flags=()
            [[ $rights == *read* ]] && flags+=(--read)
            [[ $rights == *write* ]] && flags+=(--write)
            [[ $bucket == staging ]] && bucket=$STAGING_BUCKET || bucket=$ARCHIVE_BUCKET
            garage_cli bucket allow "${flags[@]}" "$bucket" --key "$id" >/dev/null ||
                die "garage could not give the $party key $rights on $bucket"
        done
    done
}

# party_keys_toml: the [object_store.keys.<party>] tables of sportello.toml.
party_keys_toml() {
    local entry party id_var secret_var
    for entry in "${GARAGE_PARTIES[@]}"; do
        read -r party _ <<<"$entry"
        [[ $party == operations ]] && continue
        id_var="$(party_key_var "$party")_ID" secret_var="$(party_key_var "$party")_SECRET"
        printf '[object_store.keys.%s]\naccess_key = "%s"\nsecret_key = "%s"\n' \
            "$party" "${!id_var}" "${!secret_var}"
    done
}

# ------------------------------------------------------------- maildev ---

maildev_ready() {
    curl -sf -o /dev/null http://127.0.0.1:1080/api/email
}

# npm_bin NAME: NAME from PATH or from npm's global prefix (where npm puts it
# even when that prefix is not on PATH).
npm_bin() {
    local c
    for c in "$(command -v "$1" 2>/dev/null || true)" \
        "$(npm prefix -g 2>/dev/null || true)/bin/$1" "/usr/local/bin/$1"; do
        if [[ $c == */"$1" && -x $c ]]; then
            printf '%s' "$c"
            return 0
        fi
    done
    return 1
}

# node20: a Node.js >= 20 (maildev 3 needs it; Debian 12 ships 18), first the
# one on PATH, then npm's global prefix, where `npm install -g node@20` puts one.
node20() {
    local c major
    for c in "$(command -v node 2>/dev/null || true)" \
        "$(npm prefix -g 2>/dev/null || true)/bin/node" /usr/local/bin/node; do
        [[ $c == */node && -x $c ]] || continue
        major=$("$c" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || continue
        if ((major >= 20)); then
            printf '%s' "$c"
            return 0
        fi
    done
    return 1
}

up_maildev() {
    local pid node bin
    if maildev_ready; then
        reuse maildev "maildev on 127.0.0.1:1080"
        return
    fi
    if port_open 1080 || port_open 1025; then
        die "port 1080 or 1025 is in use, but not by a maildev answering GET /api/email"
    fi
    if ! node=$(node20); then
        command -v npm >/dev/null 2>&1 || apt_install nodejs npm
        log "maildev 3 needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none)): installing node@20 from the npm registry"
        npm install -g node@20 >>"$STATE_DIR/npm.log" 2>&1 ||
            die "npm install -g node@20 failed; see $STATE_DIR/npm.log"
        hash -r
        node=$(node20) || die "npm installed node@20 but no Node.js >= 20 was found"
    fi
    if ! bin=$(npm_bin maildev); then
        command -v npm >/dev/null 2>&1 || apt_install npm
        log "installing maildev 3.0.0 with npm (log: ${STATE_DIR#"$REPO_ROOT"/}/npm.log)"
        PATH="$(dirname "$node"):$PATH" npm install -g maildev@3.0.0 >>"$STATE_DIR/npm.log" 2>&1 ||
            die "npm install -g maildev@3.0.0 failed; see $STATE_DIR/npm.log"
        hash -r
        bin=$(npm_bin maildev) || die "npm installed maildev but its command was not found"
    fi
    if pid=$(pid_alive "$MAILDEV_PID" maildev); then
        log "maildev (pid $pid) is running but not answering yet: waiting for it"
    else
        # Run the script with the chosen node, whatever `node` PATH finds first.
        start_bg maildev "$MAILDEV_PID" "$STATE_DIR/maildev.log" \
            "$node" "$(readlink -f "$bin")" --smtp 1025 --web 1080 --ip 127.0.0.1 --web-ip 127.0.0.1
        pid=$(<"$MAILDEV_PID")
    fi
    wait_pid "$pid" 60 "maildev (GET http://127.0.0.1:1080/api/email)" "$STATE_DIR/maildev.log" maildev_ready
    wait_for 10 "maildev SMTP on 127.0.0.1:1025" port_open 1025
    mark_started maildev
    STARTED+=(maildev)
}

# ------------------------------------------------ AOO signing certificate ---

up_certificate() {
    local key="$STATE_DIR/aoo-dev-p256.key" crt="$STATE_DIR/aoo-dev-p256.crt"
    if [[ -s $key && -s $crt ]]; then
        return
    fi
    need_cmd openssl openssl
    log "creating the development AOO signing key and certificate"
    # ECDSA P-256: a signature costs a few microseconds, so the register's throughput is bound
    # by commits, not by signing (an RSA-2048 signature costs about a millisecond).
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key.tmp" ||
        die "openssl could not generate the AOO key"
    openssl req -new -x509 -key "$key.tmp" -days 3650 -out "$crt.tmp" \
        -subj "/CN=Comune di Esempio - AOO Protocollo Generale (sviluppo)" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature,nonRepudiation" ||
        die "openssl could not create the AOO certificate"
    chmod 600 "$key.tmp"
    chmod 644 "$crt.tmp"
    mv -f "$key.tmp" "$key"
    mv -f "$crt.tmp" "$crt"
}

# ------------------------------------------------- bearer-token keys ---

# One Ed25519 key pair per party that signs the HTTP API's bearer tokens: sportello itself
# (`sportello token`), the portal and the counter application. sportello.toml names sportello's
# private key and only the public keys of the other two; their private keys stay here, so that
# `sportello token --issuer portal --key …` can play them locally.
up_token_keys() {
    local party key pub
    for party in sportello portal counter; do
        key="$STATE_DIR/$party-token.key" pub="$STATE_DIR/$party-token.pub"
        if [[ -s $key && -s $pub ]]; then
            continue
        fi
        need_cmd openssl openssl
        log "creating the $party token key pair (Ed25519)"
        openssl genpkey -algorithm ed25519 -out "$key.tmp" ||
            die "openssl could not generate the $party token key"
        chmod 600 "$key.tmp"
        openssl pkey -in "$key.tmp" -pubout -out "$pub.tmp" ||
            die "openssl could not derive the $party public key"
        chmod 644 "$pub.tmp"
        mv -f "$key.tmp" "$key"
        mv -f "$pub.tmp" "$pub"
    done
}

# ------------------------------------------------------- RabbitMQ users ---

# One RabbitMQ user per party — each worker kind and each back office's `login` (queues.toml),
# portal, counter, api, operations — with a password generated once (credentials.env) and
# written to sportello.toml as [broker.logins.<party>]; `guest` is never used. The users and
# their permissions are set by `sportello broker users` (demo.sh runs it after the build)
# through the management API, with the administrator created here.
BROKER_ADMIN=sportello-admin
BROKER_TOML=""

broker_parties() {
    sed -n 's/^\[workers\.\([a-z0-9_-]*\)\]$/\1/p' "$REPO_ROOT/queues.toml"
    printf '%s\n' portal counter api operations
    sed -n 's/^"[^"]*" = {.* login = "\([a-z0-9_-]*\)".*/\1/p' "$REPO_ROOT/queues.toml"
}

up_broker_users() {
    local party var admin_ok=0
    if ! port_open 15672; then
        log "enabling the RabbitMQ management plugin (HTTP on 127.0.0.1:15672)"
        # As the rabbitmq user: the server runs as that user and cannot apply a plugins file
        # that root wrote (mode 600).
        chown rabbitmq:rabbitmq /etc/rabbitmq/enabled_plugins 2>/dev/null || true
        (cd / && runuser -u rabbitmq -- rabbitmq-plugins enable rabbitmq_management) \
            >>"$STATE_DIR/rabbitmq-start.log" 2>&1 ||
            die "rabbitmq-plugins enable rabbitmq_management failed; see $STATE_DIR/rabbitmq-start.log"
        wait_for 90 "the RabbitMQ management API on 127.0.0.1:15672" port_open 15672
    fi
    need_cmd curl curl
    ensure_secret SPORTELLO_BROKER_ADMIN_PASSWORD 16
    curl -fsS -o /dev/null -u "$BROKER_ADMIN:$SPORTELLO_BROKER_ADMIN_PASSWORD" \
        http://127.0.0.1:15672/api/whoami 2>/dev/null && admin_ok=1
    if ((admin_ok == 0)); then
        log "creating the RabbitMQ administrator $BROKER_ADMIN (rabbitmqctl)"
        rabbitmqctl -q add_user "$BROKER_ADMIN" "$SPORTELLO_BROKER_ADMIN_PASSWORD" >/dev/null 2>&1 ||
            rabbitmqctl -q change_password "$BROKER_ADMIN" "$SPORTELLO_BROKER_ADMIN_PASSWORD" >/dev/null ||
            die "could not create the RabbitMQ user $BROKER_ADMIN"
        rabbitmqctl -q set_user_tags "$BROKER_ADMIN" administrator >/dev/null ||
            die "could not tag $BROKER_ADMIN as administrator"
        # Over AMQP too, for what only an administrator may clean up (the tests' stale names).
        rabbitmqctl -q set_permissions -p / "$BROKER_ADMIN" '.*' '.*' '.*' >/dev/null ||
            die "could not give $BROKER_ADMIN its permissions"
    fi
    BROKER_TOML="[broker.admin]
management_url = \"http://127.0.0.1:15672\"
user = \"$BROKER_ADMIN\"
password = \"$SPORTELLO_BROKER_ADMIN_PASSWORD\""
    for party in $(broker_parties); do
        var="SPORTELLO_BROKER_PASSWORD_${party//-/_}"
        var=${var^^}
        ensure_secret "$var" 16
        BROKER_TOML+="
[broker.logins.$party]
password = \"${!var}\""
    done
}

# ------------------------------------------------------- sportello.toml ---

write_sportello_toml() {
    local out="$REPO_ROOT/sportello.toml"
    cat >"$out.tmp" <<EOF
# Written by deploy/local/stack-up.sh; regenerated on every run.
[broker]
url = "amqp://127.0.0.1:5672/%2f"
$BROKER_TOML
[database]
url = "postgres://sportello:$SPORTELLO_DB_PASSWORD@127.0.0.1:5432/sportello"
owner_url = "postgres://sportello_owner:$SPORTELLO_DB_OWNER_PASSWORD@127.0.0.1:5432/sportello"
[object_store]
endpoint = "http://127.0.0.1:3900"
region = "garage"
staging_bucket = "$STAGING_BUCKET"
archive_bucket = "$ARCHIVE_BUCKET"
# The operations key (the CLI's); every worker kind, the API and the portal have their own.
access_key = "$GARAGE_ACCESS_KEY"
secret_key = "$GARAGE_SECRET_KEY"
$(party_keys_toml)
[smtp]
host = "127.0.0.1"
port = 1025
tls = "none"
web_api = "http://127.0.0.1:1080"
[protocol]
signing_key = $(toml_str "$STATE_DIR/aoo-dev-p256.key")
signing_certificate = $(toml_str "$STATE_DIR/aoo-dev-p256.crt")
[http]
issuer = "sportello"
signing_key = $(toml_str "$STATE_DIR/sportello-token.key")
[http.issuers.portal]
public_key = $(toml_str "$STATE_DIR/portal-token.pub")
algorithm = "EdDSA"
may_mint = ["citizen"]
[http.issuers.counter]
public_key = $(toml_str "$STATE_DIR/counter-token.pub")
algorithm = "EdDSA"
may_mint = ["counter", "protocol_officer", "operations"]
EOF
    chmod 600 "$out.tmp"
    mv -f "$out.tmp" "$out"
}

# ---------------------------------------------------------------- main ---

up_rabbitmq
up_broker_users
up_postgres
up_garage
up_garage_parties
up_maildev
up_certificate
up_token_keys
write_sportello_toml

log "reused:  ${REUSED[*]:-none}"
log "started: ${STARTED[*]:-none}"
log "config:  $REPO_ROOT/sportello.toml (secrets in ${CREDENTIALS_FILE#"$REPO_ROOT"/})"
