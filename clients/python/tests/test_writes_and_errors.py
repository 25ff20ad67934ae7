"""Parquet batches (all or nothing, idempotent) and the typed errors."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from conftest import Server, free_port, hours_ago
from organism_trends import (
    NO_RETRY,
    BadRequest,
    ConnectionFailed,
    Forbidden,
    MetricsWriter,
    NotFound,
    OrganismError,
    QueryService,
    RetryPolicy,
    Unauthorized,
    Unprocessable,
)


def enriched_frame(employees: list[str], burnout: list[float]) -> pd.DataFrame:
    """What the platform's ``enrich_and_export`` gives: no time column, an
    extra column the server ignores, naive or aware times allowed."""
    df: pd.DataFrame = pd.DataFrame(
        {
            "employee_id": employees,
            "team": ["Parquet"] * len(employees),
            "degree_centrality": [0.5] * len(employees),
            "betweenness_centrality": [0.25] * len(employees),
            "clustering_coeff": [0.125] * len(employees),
            "burnout_score": burnout,
            "department_label": ["x"] * len(employees),
        }
    )
    return df


def test_a_dataframe_is_written_as_parquet_and_reads_back(server: Server, employee: str) -> None:
    at = hours_ago(2)
    df = enriched_frame([employee, employee + "_b"], [10.0, 20.5])
    with MetricsWriter(server.url, server.key("admin")) as writer:
        receipt = writer.write_metrics_from_dataframe(df, time=at)
        # The same batch again (a retry after a lost answer) changes nothing.
        again = writer.write_metrics_from_dataframe(df, time=at)
    assert receipt == {"received": 2, "stored": 2, "changed": 2}
    assert again == {"received": 2, "stored": 2, "changed": 0}
    with QueryService(server.url, server.key("reader")) as queries:
        trend = queries.get_employee_trend(employee + "_b", days=1)
    assert len(trend) == 1, "no duplicate after the retry"
    assert trend["time"].iloc[0] == pd.Timestamp(at)
    assert trend["burnout_score"].iloc[0] == 20.5
    assert trend["clustering_coeff"].iloc[0] == 0.125


def test_a_time_column_naive_or_aware_is_taken_as_utc(server: Server, employee: str) -> None:
    at = hours_ago(3)
    df = enriched_frame([employee, employee], [1.0, 2.0])
    df["time"] = [at.replace(tzinfo=None), (at + timedelta(minutes=1)).astimezone()]
    with MetricsWriter(server.url, server.key("writer")) as writer:
        writer.write_metrics_from_dataframe(df)
    with QueryService(server.url, server.key("reader")) as queries:
        trend = queries.get_employee_trend(employee, days=1)
    assert list(trend["time"]) == [pd.Timestamp(at), pd.Timestamp(at + timedelta(minutes=1))]


def test_one_bad_row_refuses_the_whole_parquet_batch_naming_row_and_field(server: Server, employee: str) -> None:
    good, bad = employee + "_good", employee + "_bad"
    df = enriched_frame([good, good + "2", bad], [30.0, 31.0, 130.0])
    with MetricsWriter(server.url, server.key("writer")) as writer:
        with pytest.raises(Unprocessable) as refused:
            writer.write_metrics_from_dataframe(df, time=hours_ago(2))
    error = refused.value
    assert (error.status, error.code, error.row, error.field) == (422, "invalid_row", 3, "burnout_score")
    assert "between 0 and 100" in error.message
    with QueryService(server.url, server.key("reader")) as queries:
        for nobody in (good, good + "2", bad):
            with pytest.raises(NotFound) as missing:
                queries.get_employee_trend(nobody, days=1)
            assert missing.value.code == "employee_not_found"


def test_a_missing_metric_in_a_batch_names_the_row_and_field(server: Server, employee: str) -> None:
    with MetricsWriter(server.url, server.key("writer")) as writer, pytest.raises(Unprocessable) as refused:
        writer.write_batch(
            [
                {"employee_id": employee, "degree_centrality": 0.1, "betweenness_centrality": 0.1,
                 "clustering_coeff": 0.1, "burnout_score": 5.0},
                {"employee_id": employee + "x", "degree_centrality": 0.1, "betweenness_centrality": 0.1,
                 "clustering_coeff": 0.1},
            ]
        )
    assert (refused.value.row, refused.value.field) == (2, "burnout_score")


def test_bad_parameters_are_bad_requests_naming_the_parameter(server: Server) -> None:
    with QueryService(server.url, server.key("reader"), retry=NO_RETRY) as queries:
        with pytest.raises(BadRequest) as days:
            queries.get_employee_trend("emp_001", days=0)
        with pytest.raises(BadRequest) as metric:
            queries.get_metric_statistics("bogus", days=3)  # type: ignore[arg-type]
        with pytest.raises(BadRequest) as threshold:
            queries.get_burnout_alerts(threshold=101.0)
    assert (days.value.status, days.value.code, days.value.field) == (400, "invalid_parameter", "days")
    assert "1 to 730" in days.value.message
    assert metric.value.field == "metric_name"
    assert threshold.value.field == "threshold"
    assert "GET /api/trends/employee/emp_001" in str(days.value)


def test_keys_and_roles_are_typed_errors(server: Server) -> None:
    with QueryService(server.url, "otk_not_a_key") as stranger, pytest.raises(Unauthorized) as unknown:
        stranger.get_burnout_alerts()
    assert unknown.value.status == 401 and unknown.value.code
    with QueryService(server.url, server.key("writer")) as writer, pytest.raises(Forbidden) as role:
        writer.get_burnout_alerts()
    assert (role.value.status, role.value.code) == (403, "wrong_role")
    with MetricsWriter(server.url, server.key("reader")) as reader, pytest.raises(Forbidden):
        reader.write_employee_metrics("emp_x", {"burnout_score": 1.0})
    assert issubclass(Forbidden, OrganismError)


def test_no_server_is_a_connection_failure_after_the_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with QueryService(url, "k", retry=RetryPolicy(attempts=2, backoff=0.0)) as queries:
        with pytest.raises(ConnectionFailed) as failed:
            queries.get_burnout_alerts()
    assert failed.value.status is None and failed.value.code == "connect"
