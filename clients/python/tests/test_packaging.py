"""The requirements document's examples run as a script, and the package
builds as a wheel carrying its type information."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import Server

CLIENT = Path(__file__).resolve().parents[1]


def test_the_requirements_usage_script_runs_against_the_server(server: Server) -> None:
    env = {**os.environ, "ORGANISM_URL": server.url, "ORGANISM_API_KEY": server.key("admin")}
    run = subprocess.run(
        [sys.executable, str(CLIENT / "examples" / "requirements_usage.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "trend of emp_001:" in run.stdout
    assert "graph export written: 3 employees" in run.stdout


def test_the_package_builds_as_a_wheel_with_py_typed(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", str(CLIENT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = list(tmp_path.glob("organism_trends-*.whl"))
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for module in ("__init__.py", "py.typed", "_protocol.py", "_session.py", "services.py", "graph.py", "errors.py"):
        assert f"organism_trends/{module}" in names, sorted(names)
    assert not any(n.startswith("tests/") for n in names)
