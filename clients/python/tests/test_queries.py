"""Write, then read back: exact values, DataFrame shape and dtypes, the
records form, and the async form of the same calls."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pandas as pd
import pytest

from conftest import Server, hours_ago
from organism_trends import (
    METRIC_NAMES,
    AsyncMetricsWriter,
    AsyncQueryService,
    MetricsWriter,
    QueryService,
)

METRICS = {
    "degree_centrality": 0.25,
    "betweenness_centrality": 0.15,
    "clustering_coeff": 0.42,
    "burnout_score": 65.3,
}


def assert_utc_times(series: pd.Series) -> None:
    assert isinstance(series.dtype, pd.DatetimeTZDtype), series.dtype
    assert str(series.dt.tz) == "UTC"


def test_a_written_sample_reads_back_exactly_as_a_utc_dataframe(server: Server, employee: str) -> None:
    at = hours_ago(3)
    with MetricsWriter(server.url, server.key("writer")) as writer:
        receipt = writer.write_employee_metrics(employee_id=employee, metrics=METRICS, time=at, team="Core")
    assert (receipt["received"], receipt["stored"]) == (1, 1)
    assert "changed" not in receipt, "a writer key is not told what changed"

    with QueryService(server.url, server.key("reader")) as queries:
        trend = queries.get_employee_trend(employee_id=employee, days=90)
        records = queries.get_employee_trend_records(employee, days=90)

    assert list(trend.columns) == ["time", "employee_id", "team", *METRIC_NAMES]
    assert len(trend) == 1
    assert_utc_times(trend["time"])
    assert trend["time"].iloc[0] == pd.Timestamp(at)
    for name, value in METRICS.items():
        assert trend[name].dtype == "float64"
        assert trend[name].iloc[0] == value
    assert trend["employee_id"].iloc[0] == employee
    assert trend["team"].iloc[0] == "Core"

    assert records == [{"time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "team": "Core", **METRICS}]


def test_a_batch_reads_back_in_time_order_raw_hourly_and_by_range(server: Server, employee: str) -> None:
    times = [hours_ago(5), hours_ago(4.5), hours_ago(2)]
    scores = [40.0, 50.0, 90.0]
    rows = [
        {"employee_id": employee, "time": t, "team": "Batch", **METRICS, "burnout_score": s}
        for t, s in zip(times, scores)
    ]
    with MetricsWriter(server.url, server.key("admin")) as writer:
        receipt = writer.write_batch(rows)
    assert receipt == {"received": 3, "stored": 3, "changed": 3}

    with QueryService(server.url, server.key("admin")) as queries:
        raw = queries.get_employee_trend(employee, days=1)
        hourly = queries.get_employee_hourly_trend(employee, days=1)
        flagged = queries.get_employee_trend(employee, days=1, use_hourly=True)
        ranged = queries.get_employee_trend_range(employee, times[1], times[2] + timedelta(seconds=1))
        hourly_records = queries.get_employee_hourly_trend_records(employee, days=1)

    assert list(raw["time"]) == [pd.Timestamp(t) for t in times]
    assert list(raw["burnout_score"]) == scores
    assert list(ranged["burnout_score"]) == scores[1:]
    assert_utc_times(hourly["time"])
    pd.testing.assert_frame_equal(hourly, flagged)
    assert hourly["samples"].dtype == "int64"
    assert hourly["samples"].sum() == 3
    assert hourly["burnout_max"].max() == 90.0
    assert hourly["burnout_min"].min() == 40.0
    assert all(t.minute == 0 and t.second == 0 for t in hourly["time"])
    assert sum(r["samples"] for r in hourly_records) == 3


def test_team_trend_alerts_and_statistics_follow_the_written_samples(server: Server) -> None:
    team = "Stats" + hours_ago(0).strftime("%H%M%S%f")
    a, b = f"emp_{team.lower()}_a", f"emp_{team.lower()}_b"
    queries = QueryService(server.url, server.key("admin"))
    before = queries.get_metric_statistics("burnout_score", days=1)
    at = hours_ago(2)
    with MetricsWriter(server.url, server.key("writer")) as writer:
        writer.write_batch(
            [
                {"employee_id": a, "team": team, **METRICS, "burnout_score": 100.0},
                {"employee_id": b, "team": team, **METRICS, "burnout_score": 0.0},
            ],
            time=at,
        )
    with queries:
        # days=2: a team trend is calendar days (today and the day before),
        # and two hours ago is yesterday in the first two hours of a UTC day.
        days = queries.get_team_trend(team, days=2)
        day_records = queries.get_team_trend_records(team, days=2)
        alerts = queries.get_burnout_alerts(threshold=99.5, days=1)
        alert_records = queries.get_burnout_alerts_records(threshold=99.5, days=1)
        after = queries.get_metric_statistics("burnout_score", days=1)

    assert len(days) == 1
    assert_utc_times(days["time"])
    assert days["time"].iloc[0] == pd.Timestamp(at.date(), tz="UTC")
    assert (days["members"].iloc[0], days["samples"].iloc[0]) == (2, 2)
    assert days["burnout_score"].iloc[0] == 50.0
    assert days["burnout_max"].iloc[0] == 100.0
    assert day_records[0]["day"] == at.date().isoformat()

    mine = alerts[alerts["employee_id"] == a]
    assert len(mine) == 1 and mine["latest_score"].iloc[0] == 100.0
    assert_utc_times(alerts["latest_time"])
    assert mine["latest_time"].iloc[0] == pd.Timestamp(at)
    assert b not in set(alerts["employee_id"])
    assert any(r["employee_id"] == a and r["latest_score"] == 100.0 for r in alert_records)

    assert after["count"] - before["count"] == 2
    assert (after["min"], after["max"]) == (0.0, 100.0)
    assert after["metric"] == "burnout_score"


def test_the_recent_metrics_count_counts_samples_of_the_last_hour(server: Server, employee: str) -> None:
    with QueryService(server.url, server.key("admin")) as queries:
        before = queries.get_recent_metrics_count()
        with MetricsWriter(server.url, server.key("writer")) as writer:
            now = hours_ago(0)
            writer.write_batch(
                [{"employee_id": employee, **METRICS, "time": now - timedelta(minutes=m)} for m in (5, 6, 7)]
            )
        after = queries.get_recent_metrics_count()
    assert before is not None and after is not None
    assert after - before == 3
    with QueryService(server.url, server.key("writer")) as as_writer:
        assert as_writer.get_recent_metrics_count() is None, "a writer is told nothing counted"


def test_an_empty_window_is_an_empty_frame_with_the_columns_and_dtypes(server: Server, employee: str) -> None:
    with MetricsWriter(server.url, server.key("writer")) as writer:
        writer.write_employee_metrics(employee, METRICS, time=hours_ago(24 * 10))
    with QueryService(server.url, server.key("reader")) as queries:
        trend = queries.get_employee_trend(employee, days=1)
    assert trend.empty
    assert list(trend.columns) == ["time", "employee_id", "team", *METRIC_NAMES]
    assert_utc_times(trend["time"])
    assert trend["burnout_score"].dtype == "float64"


def test_the_async_forms_await_the_same_calls(server: Server, employee: str) -> None:
    at = hours_ago(2)

    async def scenario() -> tuple[pd.DataFrame, pd.DataFrame]:
        async with AsyncMetricsWriter(server.url, server.key("writer")) as metrics_writer:
            await metrics_writer.write_employee_metrics(employee_id=employee, metrics=METRICS, time=at)
            await metrics_writer.write_metrics_from_dataframe(
                pd.DataFrame([{"employee_id": employee, "time": at - timedelta(hours=1), **METRICS}])
            )
        async with AsyncQueryService(server.url, server.key("reader")) as query_service:
            trend, alerts = await asyncio.gather(
                query_service.get_employee_trend(employee_id=employee, days=90),
                query_service.get_burnout_alerts(threshold=65.0, days=7),
            )
        return trend, alerts

    trend, alerts = asyncio.run(scenario())
    assert list(trend["time"]) == [pd.Timestamp(at - timedelta(hours=1)), pd.Timestamp(at)]
    assert list(trend["burnout_score"]) == [65.3, 65.3]
    assert employee in set(alerts["employee_id"])


def test_url_and_key_come_from_the_environment(server: Server, employee: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_URL", server.url)
    monkeypatch.setenv("ORGANISM_API_KEY", server.key("admin"))
    with MetricsWriter() as writer, QueryService() as queries:
        assert writer.base_url == server.url
        writer.write_employee_metrics(employee, METRICS, time=hours_ago(2))
        assert len(queries.get_employee_trend(employee, days=1)) == 1
