#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and run Organism Trends:
# the PostgreSQL server binaries (the embedded cluster is made from them) and,
# for the stream-ingest tests, the NATS server.
# Sourced by demo.sh and test.sh. Starts nothing: the Debian package's own
# cluster is kept from starting, and stopped if it started anyway.

have_pg_server() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_pg_server() {
    have_pg_server && return 0
    echo "== installing the PostgreSQL server binaries (Debian package postgresql)"
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql postgresql-contrib
    as_root rm -f /usr/sbin/policy-rc.d
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | while read -r ver name _; do
            as_root pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
        done
    fi
}

have_nats_server() {
    command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]
}

# Debian's NATS server, for the stream-ingest tests (crates/cli/tests/
# consume.rs start their own on a free port; nothing is left running). The
# package's systemd unit is not started (policy-rc.d, as for PostgreSQL).
ensure_nats_server() {
    have_nats_server && return 0
    echo "== installing the NATS server (Debian package nats-server) for the stream-ingest tests"
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nats-server
    as_root rm -f /usr/sbin/policy-rc.d
}

have_chromium() {
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
}

# Debian's headless browser and its WebDriver, for the dashboard's browser
# test. Never fatal: when they cannot be installed, the test prints
# "SKIPPED … why" and passes, and this says why the install failed.
ensure_chromium() {
    have_chromium && return 0
    echo "== installing Chromium and chromedriver (Debian packages chromium, chromium-driver) for the dashboard's browser test"
    if as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; then
        return 0
    fi
    echo "== could not install chromium and chromium-driver: the dashboard's browser test will be SKIPPED"
    return 0
}
