"""One real ``organism serve`` for the whole session, on an embedded
PostgreSQL cluster in a temporary directory, with a key per role.

The binary is ``$ORGANISM_BIN``, else ``<repo>/target/debug/organism``; when
it is missing the tests fail (build it with ``cargo build -p organism``),
they are never skipped. The server is stopped with SIGTERM at the end and
waited for, so its embedded cluster stops too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]

# What would point the binary at another database than its embedded one.
DATABASE_VARIABLES = (
    "DATABASE_URL",
    "TIMESCALE_HOST",
    "TIMESCALE_PORT",
    "TIMESCALE_DB",
    "TIMESCALE_USER",
    "TIMESCALE_PASSWORD",
    "ORGANISM_SCHEMA",
    "ORGANISM_DATA_DIR",
    "ORGANISM_BIND",
)


@dataclass(frozen=True)
class Server:
    url: str
    keys: dict[str, str]
    log: Path

    def key(self, role: str) -> str:
        return self.keys[role]


def organism_binary() -> Path:
    configured = os.environ.get("ORGANISM_BIN")
    binary = Path(configured) if configured else REPO / "target" / "debug" / "organism"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"the organism binary is missing at {binary}: build it with "
            "`cargo build -p organism` or set ORGANISM_BIN",
            pytrace=False,
        )
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES}
    env["ORGANISM_LOG"] = "warn"
    return env


def create_key(binary: Path, data_dir: Path, role: str) -> str:
    out = subprocess.run(
        [str(binary), "keys", "create", "--role", role, "--data-dir", str(data_dir)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        pytest.fail(f"organism keys create --role {role} failed:\n{out.stderr}", pytrace=False)
    for line in out.stdout.splitlines():
        if line.startswith(f"{role} API key: "):
            return line.split(": ", 1)[1].strip()
    pytest.fail(f"no key in the output of keys create:\n{out.stdout}", pytrace=False)


def wait_until_up(url: str, key: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"organism serve exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            r = httpx.get(f"{url}/api/trends/health", headers={"authorization": f"Bearer {key}"}, timeout=5)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"organism serve did not answer within 120 s:\n{log.read_text()}", pytrace=False)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = organism_binary()
    # mkdtemp makes a 0700 directory; the embedded cluster runs as an
    # unprivileged user when the tests run as root, and must reach its
    # data directory inside.
    root = Path(tempfile.mkdtemp(prefix="organism-pytest-"))
    root.chmod(0o755)
    data_dir = root / "data"
    keys = {role: create_key(binary, data_dir, role) for role in ("admin", "writer", "reader")}
    port = free_port()
    log = root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--data-dir",
                str(data_dir),
                "--bind",
                f"127.0.0.1:{port}",
                # Team trends of a few test employees are not suppressed.
                "--min-group-size",
                "1",
            ],
            env=clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, keys["admin"], process, log)
        yield Server(url=url, keys=keys, log=log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def employee() -> str:
    """An employee id no other test uses."""
    return f"emp_{uuid.uuid4().hex[:12]}"


def hours_ago(hours: float) -> datetime:
    """A sample time ``hours`` before now, to the whole second (older than
    an hour, so the health's last-hour count is not disturbed)."""
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).replace(microsecond=0)
