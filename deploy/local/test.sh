#!/usr/bin/env bash
# The test command: brings up the local stack (installing what a fresh Debian 12 lacks), builds
# the workspace and runs every test — unit, integration and end-to-end — against the real
# RabbitMQ, PostgreSQL, Garage and maildev.
#
# Usage: deploy/local/test.sh [extra cargo test arguments]     (as root)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v cargo >/dev/null 2>&1 || [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]] ||
    die "cargo is missing: install the Rust toolchain (1.95) first"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

bash "$LOCAL_DIR/stack-up.sh"
cd "$REPO_ROOT"
if [[ ! -x /usr/bin/chromium ]]; then
    # The browser tests (tests/browser.rs) drive Debian's Chromium; Playwright's own browser
    # download is not used.
    log "installing chromium and chromium-driver (browser tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }
fi
if ! command -v pdftotext >/dev/null 2>&1; then
    # The receipt test reads the PDF back as a citizen's reader would (tests/http/receipt.rs).
    log "installing poppler-utils (pdftotext)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils; }
fi
log "installing the pages' front-end packages (web/package-lock.json)"
(cd web && npm ci --no-audit --no-fund)
log "building the workspace"
cargo build --workspace --all-targets --locked
log "migrating the database schema (as its owner)"
target/debug/sportello db migrate
log "running the tests"
cargo test --workspace --locked "$@"
