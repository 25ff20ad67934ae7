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
# The stream-ingest tests start Debian's nats-server (installed here when
# absent; a skip then fails the run).
# Last, the Python client's tests and the API contract test (schemathesis,
# every check) run with pytest against a real `organism serve` started on an
# embedded cluster (scripts/python.sh; a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/setup.sh
. scripts/setup.sh
# shellcheck source=scripts/python.sh
. scripts/python.sh
ensure_pg_server
ensure_nats_server
ensure_chromium
ensure_python_env

# The server the tests will start is the first initdb on PATH (as the
# test kit finds it), else Debian's newest.
initdb_bin=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
sharedir=""
if [ -n "$initdb_bin" ]; then
    sharedir=$("$(dirname "$(readlink -f "$initdb_bin")")/pg_config" --sharedir 2>/dev/null || true)
fi
if [ -n "$sharedir" ] && [ -f "$sharedir/extension/timescaledb.control" ]; then
    echo "== TimescaleDB is installed ($sharedir): the timescale engine's tests will run, and a skipped one fails"
    export ORGANISM_REQUIRE_TIMESCALE=1
else
    echo "== TimescaleDB is not installed: the timescale engine's tests will be SKIPPED (each prints why)"
fi

if have_nats_server; then
    echo "== nats-server is installed: the stream-ingest tests will run, and a skipped one fails"
    export ORGANISM_REQUIRE_NATS=1
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    # nextest shows each test's output on success (the SKIPPED lines);
    # plain cargo test would hide them.
    echo "== installing cargo-nextest from the crate registry"
    cargo install --locked cargo-nextest
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

cleanup() { rm -rf /tmp/organism-test-* /tmp/organism-pgcluster-test-* 2>/dev/null || true; }
trap cleanup EXIT

echo "== tests"
cargo nextest run --workspace --locked --profile ci "$@"

# The Python tests start the binary the run above built for the binary's
# own tests (a separate `cargo build --bin organism` would unify features
# differently and rebuild every dependency).
run_python_tests
