"""The JSON records of the API, as ``TypedDict``s (timestamps are RFC 3339
text, exactly as the server sends them)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

MetricName = Literal[
    "degree_centrality", "betweenness_centrality", "clustering_coeff", "burnout_score"
]
METRIC_NAMES: tuple[MetricName, ...] = (
    "degree_centrality",
    "betweenness_centrality",
    "clustering_coeff",
    "burnout_score",
)


class _Receipt(TypedDict):
    received: int
    stored: int


class WriteReceipt(_Receipt, total=False):
    """What ``POST /api/metrics`` answers; ``changed`` for admin keys only."""

    changed: int


class TrendPoint(TypedDict):
    time: str
    team: str | None
    degree_centrality: float
    betweenness_centrality: float
    clustering_coeff: float
    burnout_score: float


class HourlyPoint(TrendPoint):
    samples: int
    burnout_min: float
    burnout_max: float


class _TeamDay(TypedDict):
    day: str
    members: int
    samples: int
    suppressed: bool
    degree_centrality: float | None
    betweenness_centrality: float | None
    clustering_coeff: float | None
    burnout_score: float | None


class TeamDay(_TeamDay, total=False):
    """One day of a team; no ``burnout_max`` for a manager key."""

    burnout_max: float | None


class BurnoutAlert(TypedDict):
    employee_id: str
    team: str | None
    latest_score: float
    latest_time: str
    peak_score: float
    average_score: float
    samples: int


class MetricStatistics(TypedDict):
    metric: MetricName
    start: str
    end: str
    count: int
    min: float | None
    max: float | None
    avg: float | None
    stddev: float | None


class Intervention(TypedDict):
    intervention_id: str
    kind: str
    target_employee_id: str | None
    status: str
    created_at: str
    updated_at: str
    details: Any


class AuditEvent(TypedDict):
    seq: int
    time: str
    event_id: str
    intervention_id: str
    action: str
    actor: str
    target_employee_id: str | None
    details: Any
    prev_hash: str
    hash: str


class _Snapshot(TypedDict):
    at: str
    window_start: str
    window_end: str
    employees: int
    edges: int
    interactions_used: int
    self_loops: int
    unknown_employees: int
    outside_window: int
    malformed_rows: int
    duplicate_directory_entries: int
    incremental: bool
    samples: int
    betweenness: dict[str, Any]
    seconds_graph: float
    seconds_total: float


class SnapshotSummary(_Snapshot, total=False):
    """What ``POST /api/graph/snapshots`` answers (``rows_written`` and
    ``unchanged`` for admin keys only)."""

    rows_written: int
    unchanged: int
