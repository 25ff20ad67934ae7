"""pandas on both sides: API records into DataFrames with tz-aware UTC
times, and a metrics DataFrame into the Parquet bytes ``POST /api/metrics``
reads."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Union

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .types import METRIC_NAMES

Instant = Union[datetime, pd.Timestamp, str]
"""A point in time: an aware datetime, a naive one (taken as UTC, as
``datetime.utcnow()`` gives), or RFC 3339 text."""


def utc_text(value: Instant) -> str:
    """RFC 3339 text in UTC for ``value`` (text is passed on as written)."""
    if isinstance(value, str):
        return value
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    text: str = stamp.isoformat()
    return text.replace("+00:00", "Z")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class FrameSpec:
    """The columns of one kind of answer: order, and which are times,
    floats and integers. A column the server adds later is kept, after
    these."""

    columns: tuple[str, ...]
    times: tuple[str, ...] = ()
    floats: tuple[str, ...] = ()
    ints: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()


RAW = FrameSpec(
    columns=("time", "employee_id", "team", *METRIC_NAMES),
    times=("time",),
    floats=METRIC_NAMES,
)
HOURLY = FrameSpec(
    columns=("time", "employee_id", "team", "samples", *METRIC_NAMES, "burnout_min", "burnout_max"),
    times=("time",),
    floats=(*METRIC_NAMES, "burnout_min", "burnout_max"),
    ints=("samples",),
)
TEAM_DAYS = FrameSpec(
    columns=("time", "team", "members", "samples", "suppressed", *METRIC_NAMES, "burnout_max"),
    times=("time",),
    floats=(*METRIC_NAMES, "burnout_max"),
    ints=("members", "samples"),
    renamed=(("day", "time"),),
)
ALERTS = FrameSpec(
    columns=(
        "employee_id",
        "team",
        "latest_score",
        "latest_time",
        "peak_score",
        "average_score",
        "samples",
    ),
    times=("latest_time",),
    floats=("latest_score", "peak_score", "average_score"),
    ints=("samples",),
)


def frame(rows: Sequence[Mapping[str, Any]], spec: FrameSpec, **constant: Any) -> pd.DataFrame:
    """``rows`` as a DataFrame shaped by ``spec``; ``constant`` columns
    (such as the employee of a trend) are added to every row."""
    records = [{**constant, **row} for row in rows]
    df: pd.DataFrame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    df = df.rename(columns=dict(spec.renamed))
    present = [c for c in spec.columns if c in df.columns or not records]
    extra = [c for c in df.columns if c not in spec.columns]
    df = df.reindex(columns=[*present, *extra])
    for column in spec.times:
        if column in df.columns:
            df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    for column in spec.floats:
        if column in df.columns:
            df[column] = df[column].astype("float64")
    for column in spec.ints:
        if column in df.columns:
            df[column] = df[column].astype("int64")
    return df


def parquet_of(df: pd.DataFrame, default_time: Instant | None) -> bytes:
    """The metrics in ``df`` as Parquet, with a tz-aware UTC ``time``.

    A frame without a ``time`` column (the platform's enriched frame) gets
    ``default_time``, or now; naive times are taken as UTC. Other columns
    are sent as they are: the server reads the ones it knows, ignores the
    rest and names a missing required one.
    """
    out = df.copy()
    if "time" not in out.columns:
        out["time"] = pd.Timestamp(utc_text(default_time if default_time is not None else now_utc()))
    times = out["time"]
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times, utc=True)
    elif isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC")
    else:
        times = times.dt.tz_localize("UTC")
    out["time"] = times
    table = pa.Table.from_pandas(out, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def records_of(table: Any) -> list[dict[str, Any]]:
    """A DataFrame, or a sequence of mappings, as JSON-ready dicts (times as
    ISO text, NaN as null)."""
    if isinstance(table, pd.DataFrame):
        parsed: list[dict[str, Any]] = json.loads(
            table.to_json(orient="records", date_format="iso", date_unit="us")
        )
        return parsed
    return [
        {k: utc_text(v) if isinstance(v, (datetime, pd.Timestamp)) else v for k, v in dict(row).items()}
        for row in table
    ]
