"""Interventions and their audit trail; graph snapshots."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest

from conftest import Server, hours_ago
from organism_trends import (
    AsyncGraphBuilderWithTimescale,
    AsyncInterventionAuditLogger,
    GraphBuilderWithTimescale,
    InterventionAuditLogger,
    QueryService,
    Conflict,
)


def new_id() -> str:
    return f"iv-{uuid.uuid4().hex[:10]}"


def test_log_event_creates_and_moves_an_intervention_and_query_reads_its_trail(server: Server) -> None:
    iv = new_id()
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    with InterventionAuditLogger(server.url, server.key("admin")) as audit:
        created = audit.log_event(
            "created", iv, {"note": "fewer meetings"}, actor="hr@core", kind="workload_rebalance",
            target_employee_id="emp_001",
        )
        again = audit.log_event(
            "created", iv, {"note": "fewer meetings"}, actor="hr@core", kind="workload_rebalance",
            target_employee_id="emp_001",
        )
        for action in ("approved", "activated", "completed"):
            moved = audit.log_event(action, iv, actor="hr@core")
        with pytest.raises(Conflict) as illegal:
            audit.log_event("cancelled", iv, actor="hr@core")
        # One page per event: the cursor is followed to the end.
        trail = audit.query(intervention_id=iv, page_size=1)
        approvals = audit.query(intervention_id=iv, action="approved")
        in_range = audit.query(start_date=started, end_date=datetime.now(timezone.utc) + timedelta(seconds=1))
        before = audit.query(end_date=started, intervention_id=iv)
        report = audit.verify()

    assert created == again, "a repeated create returns the intervention unchanged"
    assert (created["status"], moved["status"]) == ("proposed", "completed")
    assert (illegal.value.status, illegal.value.code) == (409, "illegal_transition")
    assert [e["action"] for e in trail] == ["created", "approved", "activated", "completed"]
    assert {e["actor"] for e in trail} == {"hr@core"}
    assert [e["seq"] for e in trail] == sorted(e["seq"] for e in trail)
    assert [e["action"] for e in approvals] == ["approved"]
    assert [e["action"] for e in in_range if e["intervention_id"] == iv] == [
        "created", "approved", "activated", "completed",
    ]
    assert before == []
    assert report["ok"] is True


def test_the_async_logger_records_and_queries_too(server: Server) -> None:
    iv = new_id()

    async def scenario() -> list[Any]:
        async with AsyncInterventionAuditLogger(server.url, server.key("admin")) as audit:
            await audit.log_event("created", iv, kind="one_on_one")
            await audit.log_event("cancelled", iv)
            return await audit.query(intervention_id=iv)

    events = asyncio.run(scenario())
    assert [e["action"] for e in events] == ["created", "cancelled"]
    assert events[0]["actor"] == "organism-trends-python"


def test_creating_needs_a_kind_and_an_unknown_action_is_refused_before_sending(server: Server) -> None:
    with InterventionAuditLogger(server.url, server.key("admin")) as audit:
        with pytest.raises(ValueError, match="kind"):
            audit.log_event("created", new_id())
        with pytest.raises(ValueError, match="unknown action"):
            audit.log_event("exploded", new_id())


def snapshot_data(prefix: str) -> dict[str, Any]:
    at = hours_ago(1)
    directory = pd.DataFrame({"employee_id": [f"{prefix}_{x}" for x in "abcd"], "team": ["G", "G", "G", "H"]})
    pairs = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
    interactions = [
        {"from": f"{prefix}_{x}", "to": f"{prefix}_{y}", "time": at - timedelta(hours=i), "channel": "chat"}
        for i, (x, y) in enumerate(pairs)
    ]
    return {"directory": directory, "interactions": interactions}


def test_the_graph_helper_posts_a_snapshot_and_the_server_stores_its_metrics(server: Server) -> None:
    prefix = f"g{uuid.uuid4().hex[:8]}"
    with GraphBuilderWithTimescale(base_url=server.url, api_key=server.key("admin")) as graph:
        graph.build(snapshot_data(prefix))
        summary = graph.snapshot()
        again = graph.snapshot(incremental=True)
    assert (summary["employees"], summary["edges"], summary["samples"]) == (4, 4, 4)
    assert summary["rows_written"] == 4
    assert (again["rows_written"], again["unchanged"]) == (0, 4)
    with QueryService(server.url, server.key("reader")) as queries:
        c = queries.get_employee_trend(f"{prefix}_c", days=1)
    # c: neighbours a, b, d of three others; one of its three pairs linked;
    # on the shortest paths d-a and d-b of the three pairs of others.
    assert c["degree_centrality"].iloc[0] == pytest.approx(1.0)
    assert c["clustering_coeff"].iloc[0] == pytest.approx(1 / 3)
    assert c["betweenness_centrality"].iloc[0] == pytest.approx(2 / 3)
    assert c["team"].iloc[0] == "G"


class PlatformGraph:
    """A stand-in for the platform's own graph builder."""

    def __init__(self, employee: str) -> None:
        self.employee = employee
        self.built: Any = None

    def build(self, data: Any) -> None:
        self.built = data

    def enrich_and_export(self, output_file: str | None = None) -> pd.DataFrame:
        df: pd.DataFrame = pd.DataFrame(
            [{"employee_id": self.employee, "team": "Plat", "degree_centrality": 0.5,
              "betweenness_centrality": 0.0, "clustering_coeff": 1.0, "burnout_score": 12.5}]
        )
        return df


def test_with_a_graph_adapter_its_dataframe_is_written(server: Server, employee: str) -> None:
    adapter = PlatformGraph(employee)

    async def scenario() -> pd.DataFrame:
        async with AsyncGraphBuilderWithTimescale(
            graph_adapter=adapter, base_url=server.url, api_key=server.key("writer")
        ) as graph_with_timescale:
            graph_with_timescale.build({"anything": 1})
            return await graph_with_timescale.enrich_and_export(write_to_timescale=True)

    df = asyncio.run(scenario())
    assert adapter.built == {"anything": 1}
    assert df["employee_id"].iloc[0] == employee
    with QueryService(server.url, server.key("reader")) as queries:
        trend = queries.get_employee_trend(employee, days=1)
    assert trend["burnout_score"].iloc[0] == 12.5
    assert trend["team"].iloc[0] == "Plat"


def test_without_an_adapter_enrich_and_export_posts_a_snapshot(server: Server) -> None:
    prefix = f"g{uuid.uuid4().hex[:8]}"
    with GraphBuilderWithTimescale(base_url=server.url, api_key=server.key("writer")) as graph:
        graph.build(snapshot_data(prefix))
        summary = graph.enrich_and_export(write_to_timescale=True)
        with pytest.raises(ValueError):
            graph.enrich_and_export(write_to_timescale=False)
    assert summary["samples"].iloc[0] == 4
    assert "rows_written" not in summary.columns, "a writer is not told what was rewritten"
