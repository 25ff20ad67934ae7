"""The requirements document's Python usage examples, run against Organism
Trends (for example ``organism demo``).

Only the imports and the constructors differ from the document: the
classes come from ``organism_trends`` (their ``await``-able forms), and the
constructors take the server from ``ORGANISM_URL`` and the key from
``ORGANISM_API_KEY`` (an admin key: the script writes and reads) instead of a
connection pool. The document's top-level ``await`` runs inside ``main()``.
The setup block makes what the examples assume already exists: the
platform's own graph builder (``graph``, ``neo4j_adapter``) and its input
(``data``).

    ORGANISM_URL=http://127.0.0.1:8080 ORGANISM_API_KEY=otk_... \\
        python clients/python/examples/requirements_usage.py
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

# Imports, changed: backend.core.timescale_metrics, timescale_queries and
# graph_builder_timescale are the client's classes.
from organism_trends import AsyncGraphBuilderWithTimescale as GraphBuilderWithTimescale
from organism_trends import AsyncMetricsWriter as TimescaleMetricsWriter
from organism_trends import AsyncQueryService as TimescaleQueryService


class PlatformGraph:
    """Setup: a stand-in for the platform's graph builder
    (``OrganizationalGraph`` / ``Neo4jAdapter``): it builds from a directory
    and exports one enriched row per employee."""

    def __init__(self) -> None:
        self.directory = pd.DataFrame()

    def build(self, data: dict[str, Any]) -> None:
        self.directory = pd.DataFrame(data["directory"])

    def enrich_and_export(self, output_file: str | None = None) -> pd.DataFrame:
        df: pd.DataFrame = self.directory.copy()
        n = max(len(df), 1)
        df["degree_centrality"] = [i / n for i in range(len(df))]
        df["betweenness_centrality"] = 0.0
        df["clustering_coeff"] = 0.5
        df["burnout_score"] = [20.0 + 60.0 * i / n for i in range(len(df))]
        return df


async def main() -> None:
    # Setup: what the examples assume exists.
    now = datetime.now(timezone.utc)
    data = {
        "directory": [
            {"employee_id": "emp_001", "team": "Core"},
            {"employee_id": "emp_002", "team": "Core"},
            {"employee_id": "emp_003", "team": "Edge"},
        ],
        "interactions": [
            {"from": "emp_001", "to": "emp_002", "time": (now - timedelta(hours=3)).isoformat(), "channel": "chat"},
        ],
    }
    graph = PlatformGraph()
    graph.build(data)
    neo4j_adapter = PlatformGraph()

    # Constructors, changed: the server and key come from the environment.
    metrics_writer = TimescaleMetricsWriter()
    query_service = TimescaleQueryService()

    # ---- From "Writing Metrics" ----

    # Write single employee metrics
    await metrics_writer.write_employee_metrics(
        employee_id="emp_001",
        metrics={
            'degree_centrality': 0.25,
            'betweenness_centrality': 0.15,
            'clustering_coeff': 0.42,
            'burnout_score': 65.3
        }
    )

    # Batch write from DataFrame
    df = graph.enrich_and_export(output_file=None)
    await metrics_writer.write_metrics_from_dataframe(df)

    # ---- From "Querying Trends" ----

    # Get 90-day trend
    trend = await query_service.get_employee_trend(
        employee_id="emp_001",
        days=90
    )

    # Get burnout alerts
    alerts = await query_service.get_burnout_alerts(
        threshold=70.0,
        days=7
    )

    # ---- From "Using Graph Builder with TimescaleDB" ----

    # Wrap existing graph adapter (constructor changed: no pool)
    graph_with_timescale = GraphBuilderWithTimescale(
        graph_adapter=neo4j_adapter,
    )

    # Build graph and write metrics to TimescaleDB
    graph_with_timescale.build(data)
    df = await graph_with_timescale.enrich_and_export(write_to_timescale=True)

    # What it did (not from the document).
    print(f"trend of emp_001: {len(trend)} samples, latest burnout {trend['burnout_score'].iloc[-1]}")
    print(f"burnout alerts at >= 70 over 7 days: {len(alerts)}")
    print(f"graph export written: {len(df)} employees")
    if trend.empty or len(df) != len(data["directory"]):
        raise SystemExit("unexpected answer")
    for service in (metrics_writer, query_service, graph_with_timescale):
        await service.aclose()


if __name__ == "__main__":
    asyncio.run(main())
