"""The API contract: schemathesis, with every check and every phase, finds
no failure against a real ``organism serve`` on a seeded database.

Checks: not_a_server_error, status_code_conformance, content_type_conformance,
response_headers_conformance, response_schema_conformance,
negative_data_rejection, positive_data_acceptance, missing_required_header,
unsupported_method, allow_header_conformance, use_after_free,
ensure_resource_availability, ignored_auth and object_level_authorization
(``--checks all``); phases examples, coverage, fuzzing and stateful (the
document's links: a created intervention's status change and audit events).
The seed is fixed so that a CI run is reproducible; ``ORGANISM_CONTRACT_SEED``
picks another and ``ORGANISM_CONTRACT_EXAMPLES`` more cases per operation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import Server, hours_ago

HERE = Path(__file__).resolve().parent / "contract"


def seed(server: Server) -> None:
    """Employees and an intervention for the document's examples to find."""
    headers = {"authorization": f"Bearer {server.key('admin')}"}
    rows = [
        {
            "time": hours_ago(hours).isoformat(),
            "employee_id": f"emp_{n:03d}",
            "team": "Data Platform",
            "degree_centrality": 0.1 * (n % 10),
            "betweenness_centrality": 0.01 * n,
            "clustering_coeff": 0.3,
            "burnout_score": 50.0 + n,
        }
        for n in range(1, 21)
        for hours in (2, 26, 50)
    ]
    r = httpx.post(f"{server.url}/api/metrics", json=rows, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{server.url}/api/interventions",
        json={
            "intervention_id": "int-2026-0042",
            "kind": "workload_rebalance",
            "target_employee_id": "emp_017",
            "details": {"note": "move two projects to the platform team"},
            "actor": "hr.partner@example.com",
        },
        headers=headers,
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text


def test_schemathesis_finds_no_failure_with_every_check(server: Server) -> None:
    seed(server)
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is not installed in this venv (scripts/python.sh installs it)"
    command = [
        st,
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{server.url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {server.key('admin')}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        os.environ.get("ORGANISM_CONTRACT_EXAMPLES", "25"),
        "--seed",
        os.environ.get("ORGANISM_CONTRACT_SEED", "20261201"),
        "--workers",
        "1",
        "--no-color",
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks", PYTHONPATH=str(HERE))
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    # The summary, for the test command's log (pytest -v shows it with -s or
    # on failure); the whole output on failure.
    summary = run.stdout[run.stdout.find("SUMMARY") - 40 :] if "SUMMARY" in run.stdout else run.stdout
    print(summary)
    assert run.returncode == 0, run.stdout + run.stderr
