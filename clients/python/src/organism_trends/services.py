"""The services of the requirements document, each written once as a set
of operations (``_*Calls``) and offered twice: a blocking class
(``MetricsWriter``) and an ``await``-able one (``AsyncMetricsWriter``).
See ``_session.py`` for how one definition serves both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import httpx
import pandas as pd

from ._frames import ALERTS, HOURLY, RAW, TEAM_DAYS, Instant, frame, now_utc, parquet_of, utc_text
from ._protocol import Call, Request, segment
from ._session import AsyncService, SyncService, operation
from .types import (
    METRIC_NAMES,
    AuditEvent,
    BurnoutAlert,
    HourlyPoint,
    Intervention,
    MetricName,
    MetricStatistics,
    TeamDay,
    TrendPoint,
    WriteReceipt,
)

PARQUET = "application/vnd.apache.parquet"


def _json(response: httpx.Response) -> Any:
    return response.json()


def _post_metrics_json(rows: list[dict[str, Any]]) -> Call[WriteReceipt]:
    response = yield Request("POST", "/api/metrics", json=rows)
    return cast(WriteReceipt, _json(response))


def _metric_row(
    employee_id: str,
    metrics: Mapping[str, Any],
    time: Instant | None,
    team: str | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {name: metrics.get(name) for name in METRIC_NAMES}
    row["employee_id"] = employee_id
    row["time"] = utc_text(time if time is not None else now_utc())
    if team is not None:
        row["team"] = team
    return row


class _MetricsWriterCalls:
    @operation
    def write_employee_metrics(
        self,
        employee_id: str,
        metrics: Mapping[str, float],
        time: Instant | None = None,
        team: str | None = None,
    ) -> Call[WriteReceipt]:
        """Writes one sample: the four metrics of ``employee_id`` at ``time``
        (default now). Writing the same sample again replaces it."""
        return _post_metrics_json([_metric_row(employee_id, metrics, time, team)])

    @operation
    def write_batch(
        self,
        metrics_list: Iterable[Mapping[str, Any]],
        time: Instant | None = None,
    ) -> Call[WriteReceipt]:
        """Writes many samples at once, all or nothing. Each mapping holds
        ``employee_id``, the four metrics and optionally ``team`` and
        ``time`` (else ``time``, else now)."""
        default = time if time is not None else now_utc()
        rows = [
            _metric_row(
                str(m["employee_id"]),
                m,
                m.get("time", default),
                m.get("team"),
            )
            for m in metrics_list
        ]
        return _post_metrics_json(rows)

    @operation
    def write_metrics_from_dataframe(
        self, df: pd.DataFrame, time: Instant | None = None
    ) -> Call[WriteReceipt]:
        """Writes a metrics DataFrame (what the platform's graph builders
        export), sent as Parquet, all or nothing: a bad row raises
        :class:`~organism_trends.errors.Unprocessable` naming its ``row``
        (1-based) and ``field``, and nothing is stored. Without a ``time``
        column every row gets ``time`` (default now)."""
        return _post_parquet(parquet_of(df, time))


def _post_parquet(body: bytes) -> Call[WriteReceipt]:
    response = yield Request("POST", "/api/metrics", content=body, content_type=PARQUET)
    return cast(WriteReceipt, _json(response))


def _get(path: str, **params: Any) -> Call[Any]:
    text = {k: _param(v) for k, v in params.items() if v is not None}
    response = yield Request("GET", path, params=text)
    return _json(response)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return utc_text(value)


def _trend(path: str, employee_id: str, **params: Any) -> Call[pd.DataFrame]:
    body = yield from _get(path, **params)
    spec = HOURLY if body.get("resolution") == "hourly" else RAW
    return frame(body["points"], spec, employee_id=employee_id)


def _points(path: str, **params: Any) -> Call[Any]:
    body = yield from _get(path, **params)
    return body["points"]


def _employee(employee_id: str) -> str:
    return f"/api/trends/employee/{segment(employee_id)}"


class _QueryCalls:
    @operation
    def get_employee_trend(
        self, employee_id: str, days: int = 90, use_hourly: bool = False
    ) -> Call[pd.DataFrame]:
        """The samples of the last ``days`` days (1-730), oldest first, or
        their hourly aggregates: one row per sample (or hour), a tz-aware
        UTC ``time`` column, ``employee_id``, ``team`` and the metrics."""
        return _trend(_employee(employee_id), employee_id, days=days, use_hourly=use_hourly)

    @operation
    def get_employee_trend_records(
        self, employee_id: str, days: int = 90, use_hourly: bool = False
    ) -> Call[list[TrendPoint]]:
        """:meth:`get_employee_trend` as the API's JSON records."""
        return _points(_employee(employee_id), days=days, use_hourly=use_hourly)

    @operation
    def get_employee_hourly_trend(self, employee_id: str, days: int = 90) -> Call[pd.DataFrame]:
        """Hourly aggregates (``samples``, the average of each metric,
        ``burnout_min``, ``burnout_max``) of the last ``days`` days."""
        return _trend(_employee(employee_id), employee_id, days=days, use_hourly=True)

    @operation
    def get_employee_hourly_trend_records(
        self, employee_id: str, days: int = 90
    ) -> Call[list[HourlyPoint]]:
        """:meth:`get_employee_hourly_trend` as the API's JSON records."""
        return _points(_employee(employee_id), days=days, use_hourly=True)

    @operation
    def get_employee_trend_range(
        self,
        employee_id: str,
        start_date: Instant,
        end_date: Instant,
        use_hourly: bool = False,
    ) -> Call[pd.DataFrame]:
        """The samples from ``start_date`` up to ``end_date`` (a bare date as
        ``end_date`` means the end of that day)."""
        return _trend(
            _employee(employee_id) + "/range",
            employee_id,
            start_date=start_date,
            end_date=end_date,
            use_hourly=use_hourly,
        )

    @operation
    def get_team_trend(self, team_name: str, days: int = 30) -> Call[pd.DataFrame]:
        """One row per day: ``time`` (the UTC day's start), ``members``,
        ``samples``, ``suppressed`` (fewer members than the server's minimum
        group size: the metrics are then NaN), the average of each metric
        and ``burnout_max``."""
        return _team(team_name, days)

    @operation
    def get_team_trend_records(self, team_name: str, days: int = 30) -> Call[list[TeamDay]]:
        """:meth:`get_team_trend` as the API's JSON records (``day`` text)."""
        return _team_days(team_name, days)

    @operation
    def get_burnout_alerts(self, threshold: float = 70.0, days: int = 7) -> Call[pd.DataFrame]:
        """Employees whose latest burnout score in the last ``days`` days
        (1-90) is at least ``threshold`` (0-100), highest first, with
        ``latest_time`` tz-aware UTC."""
        return _alerts(threshold, days, as_frame=True)

    @operation
    def get_burnout_alerts_records(
        self, threshold: float = 70.0, days: int = 7
    ) -> Call[list[BurnoutAlert]]:
        """:meth:`get_burnout_alerts` as the API's JSON records."""
        return _alerts(threshold, days, as_frame=False)

    @operation
    def get_metric_statistics(self, metric_name: MetricName, days: int = 30) -> Call[MetricStatistics]:
        """min, max, avg, stddev and count of one metric over ``days`` days."""
        return _get(f"/api/trends/statistics/{segment(metric_name)}", days=days)

    @operation
    def get_health(self) -> Call[dict[str, Any]]:
        """The health report (database, engine, schema version, jobs, pool)."""
        return _get("/api/trends/health")

    @operation
    def get_recent_metrics_count(self) -> Call[int | None]:
        """Samples received in the last hour; None for a writer key, which
        is told nothing counted from stored data."""
        return _recent_count()


def _team_days(team_name: str, days: int) -> Call[Any]:
    body = yield from _get(f"/api/trends/team/{segment(team_name)}", days=days)
    return body["days"]


def _team(team_name: str, days: int) -> Call[pd.DataFrame]:
    rows = yield from _team_days(team_name, days)
    return frame(rows, TEAM_DAYS, team=team_name)


def _alerts(threshold: float, days: int, *, as_frame: bool) -> Call[Any]:
    body = yield from _get("/api/trends/burnout-alerts", threshold=float(threshold), days=days)
    return frame(body["alerts"], ALERTS) if as_frame else body["alerts"]


def _recent_count() -> Call[int | None]:
    body = yield from _get("/api/trends/health")
    count = body.get("samples_last_hour")
    return int(count) if count is not None else None


STATUS_OF_ACTION = {
    "approved": "approved",
    "activated": "active",
    "completed": "completed",
    "cancelled": "cancelled",
    "rolled_back": "rolled_back",
}
"""The status an audit action moves an intervention to (the API's names;
the status names themselves are accepted too)."""

CREATE_ACTIONS = ("created", "proposed")


class _AuditCalls:
    _actor: str = "organism-trends-python"

    @operation
    def log_event(
        self,
        action: str,
        intervention_id: str,
        details: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
        kind: str | None = None,
        target_employee_id: str | None = None,
    ) -> Call[Intervention]:
        """Records an intervention event, as the API records them: with the
        change it stands for, in one transaction.

        ``action`` "created" (or "proposed") creates the intervention (needs
        ``kind``; repeating it with the same content returns it unchanged);
        "approved", "activated", "completed", "cancelled" or "rolled_back"
        (or the status names "active", ...) moves it along the allowed
        transitions, else :class:`~organism_trends.errors.Conflict` with
        code ``illegal_transition``. Returns the intervention."""
        who = actor or self._actor
        if action in CREATE_ACTIONS:
            if kind is None:
                raise ValueError("creating an intervention needs its kind (e.g. 'workload_rebalance')")
            body: dict[str, Any] = {
                "intervention_id": intervention_id,
                "kind": kind,
                "target_employee_id": target_employee_id,
                "details": dict(details or {}),
                "actor": who,
            }
            return _send_intervention(Request("POST", "/api/interventions", json=body))
        status = STATUS_OF_ACTION.get(action, action)
        if status not in STATUS_OF_ACTION.values():
            raise ValueError(f"unknown action {action!r}: one of created, {', '.join(STATUS_OF_ACTION)}")
        change = {"status": status, "actor": who, "details": dict(details or {})}
        path = f"/api/interventions/{segment(intervention_id)}"
        return _send_intervention(Request("PATCH", path, json=change))

    @operation
    def query(
        self,
        start_date: Instant | None = None,
        end_date: Instant | None = None,
        intervention_id: str | None = None,
        action: str | None = None,
        *,
        page_size: int = 1000,
    ) -> Call[list[AuditEvent]]:
        """Audit events at or after ``start_date`` and before ``end_date``,
        of one intervention and one action if given, oldest first; every
        page is fetched (the API's keyset cursor), ``page_size`` at a time."""
        return _audit_pages(
            {
                "start": start_date,
                "end": end_date,
                "intervention_id": intervention_id,
                "action": action,
                "limit": page_size,
            }
        )

    @operation
    def list_interventions(
        self, status: str | None = None, target: str | None = None, limit: int = 100
    ) -> Call[list[Intervention]]:
        """Interventions, newest first."""
        return _get("/api/interventions", status=status, target=target, limit=limit)

    @operation
    def verify(self) -> Call[dict[str, Any]]:
        """The server's check of the audit chain (``ok``, ``first_broken``...)."""
        return _get("/api/audit/verify")


def _send_intervention(request: Request) -> Call[Intervention]:
    response = yield request
    return cast(Intervention, _json(response))


def _audit_pages(params: dict[str, Any]) -> Call[list[AuditEvent]]:
    events: list[AuditEvent] = []
    cursor: str | None = None
    while True:
        page = yield from _get("/api/audit", cursor=cursor, **params)
        events.extend(page["events"])
        cursor = page.get("next_cursor")
        if not cursor or not page["events"]:
            return events


class MetricsWriter(_MetricsWriterCalls, SyncService):
    """Writes metrics samples (``TimescaleMetricsWriter``), blocking."""


class AsyncMetricsWriter(_MetricsWriterCalls, AsyncService):
    """Writes metrics samples (``TimescaleMetricsWriter``), ``await``-able."""


class QueryService(_QueryCalls, SyncService):
    """Trend queries (``TimescaleQueryService``), blocking."""


class AsyncQueryService(_QueryCalls, AsyncService):
    """Trend queries (``TimescaleQueryService``), ``await``-able."""


class InterventionAuditLogger(_AuditCalls, SyncService):
    """Intervention events and the audit trail, blocking (needs an admin key)."""


class AsyncInterventionAuditLogger(_AuditCalls, AsyncService):
    """Intervention events and the audit trail, ``await``-able (admin key)."""


__all__ = [
    "AsyncInterventionAuditLogger",
    "AsyncMetricsWriter",
    "AsyncQueryService",
    "InterventionAuditLogger",
    "MetricsWriter",
    "QueryService",
]
