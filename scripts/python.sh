#!/usr/bin/env bash
# The Python client's environment and checks (clients/python). Sourced by
# test.sh; run from the repository root. Starts nothing that outlives it:
# the client's tests start their own `organism serve` on an embedded
# cluster and stop it.
#
#   ensure_python_env   a venv at ${ORGANISM_PY_VENV:-target/python-venv}
#                       (under target/, git-ignored) with ./clients/python[test]
#                       installed at the versions of clients/python/constraints.txt
#   run_python_tests    mypy --strict on the package, the example and the tests, then
#                       pytest -v on clients/python/tests against
#                       ${ORGANISM_BIN:-$CARGO_TARGET_DIR/debug/organism} (build it first:
#                       the tests fail, never skip, when it is missing)

# shellcheck source=scripts/setup.sh
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

python_venv() {
    echo "${ORGANISM_PY_VENV:-target/python-venv}"
}

# The interpreter the venv is made from: ORGANISM_PYTHON, else python3.
# constraints.txt pins versions for Python 3.11 (pandas 3 needs >= 3.11).
python_interpreter() {
    echo "${ORGANISM_PYTHON:-python3}"
}

ensure_python_env() {
    local venv python
    venv=$(python_venv)
    python=$(python_interpreter)
    if [ ! -x "$venv/bin/python" ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "== $python is missing or older than 3.10: set ORGANISM_PYTHON to a Python >= 3.10" >&2
            return 1
        fi
        if ! "$python" -m venv --help >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            echo "== installing python3-venv (Debian package) for the client's venv"
            as_root apt-get update -q
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
        fi
        echo "== creating the Python venv $venv"
        "$python" -m venv "$venv"
    fi
    echo "== installing ./clients/python[test] into $venv (versions of clients/python/constraints.txt)"
    # The build backend first, at its pinned version, so that building the
    # client (here and in its wheel test) needs no download of its own.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        -c clients/python/constraints.txt setuptools
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation \
        -c clients/python/constraints.txt './clients/python[test]'
    # The API contract test's fuzzer, in the same venv, at its pinned version.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        -c clients/python/constraints.txt schemathesis
}

run_python_tests() {
    local venv bin
    venv=$(cd "$(python_venv)" && pwd) || return 1
    bin=${ORGANISM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/organism}
    echo "== mypy --strict (clients/python)"
    (cd clients/python && "$venv/bin/mypy" --strict --cache-dir "$venv/mypy-cache" \
        src/organism_trends examples tests) || return 1
    echo "== pytest (clients/python) against $bin"
    ORGANISM_BIN="$bin" PYTHONDONTWRITEBYTECODE=1 "$venv/bin/pytest" -v -rP -p no:cacheprovider \
        clients/python/tests "$@"
}
