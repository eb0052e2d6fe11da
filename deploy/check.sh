#!/usr/bin/env bash
# Offline checks of the deployment files, for CI (.ci/run) and before a commit:
#   1. deploy/systemd/: `systemd-analyze verify` of every unit and instance, and
#      `systemd-analyze security --offline` with a ceiling on the exposure score;
#   2. deploy/kubernetes/: every object kustomize renders, validated against the Kubernetes
#      OpenAPI schemas (kubernetes-validate, pinned, in a venv under ~/.cache), plus our own checks
#      of what those schemas cannot see (KEDA ScaledObjects, queue names, security settings).
# Touches nothing outside a temporary directory and ~/.cache/sportello-deploy-check; installs
# systemd (apt-get, as root) only if systemd-analyze is missing. Idempotent; exits non-zero on any
# problem, saying which file and why. Needs target/debug/sportello (or $SPORTELLO_BIN).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

fail=0
problem() { echo "deploy/check.sh: FAIL: $*" >&2; fail=1; }
step() { echo "== $*"; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

BIN=${SPORTELLO_BIN:-$ROOT/target/debug/sportello}
if [[ ! -x $BIN ]]; then
    echo "deploy/check.sh: $BIN missing: build it (cargo build -p sportello-fleet --bin sportello) or set SPORTELLO_BIN" >&2
    exit 1
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "deploy/check.sh: needs python3 ≥ 3.11 (tomllib, to read queues.toml)" >&2
    exit 1
fi

# The worker kinds, from queues.toml (the [workers.*] tables): the units and manifests must
# name exactly these.
mapfile -t KINDS < <(python3 -c '
import tomllib, sys
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["workers"]))' "$ROOT/queues.toml")

# ---------------------------------------------------------------------------------------------
step "systemd units (deploy/systemd)"
if ! command -v systemd-analyze >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "deploy/check.sh: systemd-analyze missing; run as root to install it (apt-get install systemd)" >&2
        exit 1
    fi
    echo "installing systemd (for systemd-analyze)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >/dev/null; }
fi

# How the verification works in a container whose PID 1 is not systemd: `systemd-analyze
# verify` loads units itself, without a running manager, but it checks that every ExecStart=
# binary exists and is executable, and the units name /usr/local/bin/sportello, which is not
# installed on a build machine (and must not be: this check changes nothing on the host). So
# the units go into a throwaway root: --root=$SDROOT makes verify resolve unit paths *and*
# ExecStart= paths inside it. That root needs the distribution's own units too (sysinit.target,
# basic.target, network-online.target… which every service depends on by default), copied from
# /usr/lib/systemd/system (~1 MB), and the binary, hard-linked (or copied, across filesystems)
# from target/debug/sportello. --man=no: Documentation= is not looked up in man pages that are
# not there. verify reports unknown keys and bad values as warnings with exit status 0, so any
# output at all counts as a failure.
SDROOT=$TMP/sdroot
mkdir -p "$SDROOT/etc/systemd/system" "$SDROOT/usr/lib/systemd" "$SDROOT/usr/local/bin"
cp -a /usr/lib/systemd/system "$SDROOT/usr/lib/systemd/"
cp -a "$ROOT"/deploy/systemd/. "$SDROOT/etc/systemd/system/"
ln "$BIN" "$SDROOT/usr/local/bin/sportello" 2>/dev/null || cp "$BIN" "$SDROOT/usr/local/bin/sportello"

units=(sportello.target sportello-api.service sportello-migrate.service
    sportello-broker-users.service sportello-topology.service)
for kind in "${KINDS[@]}"; do units+=("sportello-worker@$kind.service"); done
out=$(systemd-analyze verify --man=no --generators=no --root="$SDROOT" "${units[@]}" 2>&1) ||
    problem "systemd-analyze verify failed"
if [[ -n $out ]]; then
    echo "$out" >&2
    problem "systemd-analyze verify reported the above"
fi

# The target must start exactly the kinds of queues.toml (a new kind in queues.toml without a
# Wants= line here would silently never run).
mapfile -t wanted < <(sed -n 's/^Wants=sportello-worker@\(.*\)\.service$/\1/p' deploy/systemd/sportello.target | sort)
if [[ "$(printf '%s\n' "${wanted[@]}")" != "$(printf '%s\n' "${KINDS[@]}" | sort)" ]]; then
    problem "deploy/systemd/sportello.target wants workers {${wanted[*]}}, queues.toml has {${KINDS[*]}}"
fi

# Hardening, scored by systemd itself (0 = fully locked down, 10 = nothing). 2.0 leaves room
# only for what the binary needs (network sockets, being a long-running service). --offline
# reads the units from --root as verify does.
for unit in "${units[@]}"; do
    [[ $unit == *.target ]] && continue
    if ! out=$(systemd-analyze security --offline=yes --root="$SDROOT" --threshold=20 --no-pager "$unit" 2>&1); then
        echo "$out" | grep -E '✗|Overall' >&2 || echo "$out" >&2
        problem "$unit: exposure above 2.0 (systemd-analyze security)"
    fi
done

# ---------------------------------------------------------------------------------------------
step "configuration files (sportello.toml of the ConfigMap, broker-admin.toml.example)"
# The binary's own loader (unknown keys and bad values refused, as at start-up), offline:
# `topology check` loads the configuration and touches no service.
for file in deploy/kubernetes/base/sportello.toml deploy/systemd/broker-admin.toml.example; do
    if ! out=$(cd "$TMP" && env -u SPORTELLO_CONFIG "$BIN" --config "$ROOT/$file" topology check 2>&1); then
        echo "$out" >&2
        problem "$file does not load"
    fi
done

# ---------------------------------------------------------------------------------------------
step "Kubernetes manifests (deploy/kubernetes)"
# kubernetes-validate bundles the OpenAPI schemas of every Kubernetes release: offline, once
# installed (pinned, into a venv of its own under ~/.cache, from PyPI). --strict refuses unknown
# fields. Validated against the oldest release the manifests are meant for (1.30: the preStop
# sleep action) and the newest the package knows.
KV_VERSION=1.37.0
K8S_VERSIONS=(1.30.0 1.37.0)
VENV=${XDG_CACHE_HOME:-$HOME/.cache}/sportello-deploy-check/venv-kv-$KV_VERSION
if [[ ! -x $VENV/bin/kubernetes-validate ]]; then
    echo "installing kubernetes-validate $KV_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION" ||
        { rm -rf "$VENV"; echo "deploy/check.sh: could not install kubernetes-validate from PyPI" >&2; exit 1; }
fi
if ! command -v kubectl >/dev/null; then
    echo "deploy/check.sh: kubectl (for its built-in kustomize) is missing" >&2
    exit 1
fi

if ! python3 deploy/kubernetes/generate-workers.py --check; then
    problem "deploy/kubernetes/fleet/workers/ is not what generate-workers.py makes of queues.toml"
fi
rendered=()
for overlay in setup fleet; do
    if kubectl kustomize "deploy/kubernetes/$overlay" >"$TMP/$overlay.yaml" 2>"$TMP/kustomize.err"; then
        rendered+=("$TMP/$overlay.yaml")
    else
        cat "$TMP/kustomize.err" >&2
        problem "kustomize cannot render deploy/kubernetes/$overlay"
    fi
done
if ((${#rendered[@]} == 2)); then
    # Our checks (KEDA objects, kinds, security settings, secrets); writes the core objects.
    "$VENV/bin/python" deploy/kubernetes/check_manifests.py queues.toml "$TMP/core.yaml" "${rendered[@]}" ||
        problem "deploy/kubernetes: see above"
    for version in "${K8S_VERSIONS[@]}"; do
        if ! out=$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "$TMP/core.yaml" 2>&1); then
            echo "$out" >&2
            problem "Kubernetes $version schemas refuse the manifests"
        elif [[ -n $out ]]; then
            # Warnings: above all "Couldn't find schema", i.e. an object we believed core is not.
            echo "$out" >&2
            problem "kubernetes-validate $version warned"
        fi
    done
fi

if ((fail)); then exit 1; fi
echo "deploy/check.sh: all checks passed"
