"""Serializers schemathesis lacks, for the bodies of ``POST /api/metrics``.

The document describes an NDJSON or Parquet body by the rows it carries
(``MetricRow``), as it does a JSON array; these turn the rows schemathesis
generates into the bytes a real client sends, keeping each value's type
(JSON lines are JSON; Parquet columns are typed), so that a row the schema
refuses is still refused on the wire. Loaded with ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    if isinstance(value, list):
        return "".join(json.dumps(row) + "\n" for row in value).encode()
    return json.dumps(value).encode()


def as_bytes(values: list[Any]) -> "pa.Array[Any]":
    return pa.array([None if v is None else json.dumps(v).encode() for v in values], type=pa.binary())


def column(values: list[Any]) -> "pa.Array[Any]":
    """One typed column. Values Parquet cannot hold as they are (mixed
    types, an object without fields, an integer beyond 64 bits) become a
    binary column of their JSON, which is neither text nor a number: the
    server refuses it where it reads one, as it would refuse the values."""
    try:
        array: "pa.Array[Any]" = pa.array(values)
        pq.write_table(pa.table({"probe": array}), io.BytesIO())
        return array
    except Exception:
        return as_bytes(values)


# A file without rows still has its columns (MetricRow's).
EMPTY = pa.schema(
    [("time", pa.string()), ("employee_id", pa.string()), ("team", pa.string())]
    + [(m, pa.float64()) for m in ("degree_centrality", "betweenness_centrality", "clustering_coeff", "burnout_score")]
)


@schemathesis.serializer("application/vnd.apache.parquet")
def parquet(ctx: Any, value: Any) -> bytes:
    if not (isinstance(value, list) and all(isinstance(row, dict) for row in value)):
        # Not rows at all: the bytes of its JSON, which no Parquet reader takes.
        return json.dumps(value).encode()
    names: list[str] = []
    for row in value:
        names.extend(k for k in row if k not in names)
    sink = io.BytesIO()
    try:
        if value:
            table = pa.table({name: column([row.get(name) for row in value]) for name in names})
        else:
            table = EMPTY.empty_table()
        pq.write_table(table, sink)
    except Exception:
        # Anything else Parquet cannot hold: as above.
        return json.dumps(value).encode()
    return sink.getvalue()
