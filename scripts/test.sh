#!/usr/bin/env bash
# The test command of the README and of CI: installs what a fresh machine
# lacks, checks formatting and lints, then runs every test of the workspace.
#
# Tests start their own throwaway PostgreSQL clusters from the server
# binaries (nothing is left running). Tests of the timescale engine run when
# the TimescaleDB extension is installed for that server and print
# "SKIPPED … timescale engine: <why>" otherwise. The dashboard's browser test
# drives Debian's headless Chromium (installed here when absent) and prints
# "SKIPPED dashboard browser test: <why>" only when it is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup.sh
. scripts/setup.sh
ensure_pg_server
ensure_chromium

if ls /usr/share/postgresql/*/extension/timescaledb.control >/dev/null 2>&1; then
    echo "== TimescaleDB is installed: the timescale engine's tests will run"
else
    echo "== TimescaleDB is not installed: the timescale engine's tests will be SKIPPED (each prints why)"
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

cleanup() { rm -rf /tmp/organism-test-* /tmp/organism-pgcluster-test-* 2>/dev/null || true; }
trap cleanup EXIT

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --profile ci "$@"
else
    cargo test --workspace --locked "$@"
fi
