#!/usr/bin/env bash
# The README's run command: installs what a fresh machine lacks, builds the
# binary, and runs `organism demo` on the embedded default (a private
# PostgreSQL cluster in ./organism-data, reused across runs).
# Extra arguments go to `organism demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
ensure_pg_server
cargo build --release --locked -p organism
# Where cargo put it: ./target unless CARGO_TARGET_DIR says otherwise.
exec "${CARGO_TARGET_DIR:-./target}/release/organism" demo "$@"
