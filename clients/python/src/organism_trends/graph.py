"""``GraphBuilderWithTimescale``: the platform's graph builder, with its
metrics stored in Organism Trends.

Two ways, one class:

* **With a graph adapter** (the platform's ``OrganizationalGraph`` or
  ``Neo4jAdapter``, anything with ``build(data)`` and
  ``enrich_and_export(output_file=None) -> DataFrame``): the adapter computes
  the metrics, and :meth:`enrich_and_export` writes its DataFrame as one
  Parquet batch (all or nothing), as the requirements describe.
* **Without one**: Organism Trends computes them. :meth:`build` keeps the
  ``directory`` and ``interactions`` of ``data``, and
  :meth:`enrich_and_export` (or :meth:`snapshot`) posts them to
  ``POST /api/graph/snapshots``, which computes degree, betweenness,
  clustering and burnout and stores one sample per directory employee. The
  server does not send the computed metrics back, so the DataFrame returned
  is then the snapshot's summary, one row (read the metrics with
  :class:`~organism_trends.QueryService`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import httpx
import pandas as pd

from ._frames import Instant, parquet_of, records_of, utc_text
from ._protocol import Call, Request, RetryPolicy
from ._session import AsyncService, SyncService, operation
from .services import _post_parquet
from .types import SnapshotSummary

Table = pd.DataFrame | Sequence[Mapping[str, Any]]


class GraphAdapter(Protocol):
    """What the platform's graph builders offer."""

    def build(self, data: Any) -> Any: ...

    def enrich_and_export(self, output_file: str | None = None) -> pd.DataFrame: ...


class _GraphCalls:
    _adapter: GraphAdapter | None
    _directory: list[dict[str, Any]]
    _interactions: list[dict[str, Any]]

    def _adopt(self, graph_adapter: GraphAdapter | None) -> None:
        self._adapter = graph_adapter
        self._directory = []
        self._interactions = []

    def build(self, data: Any) -> None:
        """Builds the graph: the adapter's ``build(data)``, or, without an
        adapter, keeps ``data["directory"]`` (``employee_id``, ``team``) and
        ``data["interactions"]`` (``from``, ``to``, ``time``, ``channel``,
        ``weight``, ``duration``), each a DataFrame or a list of mappings."""
        if self._adapter is not None:
            self._adapter.build(data)
            return
        if not isinstance(data, Mapping) or "directory" not in data or "interactions" not in data:
            raise ValueError("without a graph adapter, data must map 'directory' and 'interactions' to tables")
        self._directory = records_of(cast(Table, data["directory"]))
        self._interactions = records_of(cast(Table, data["interactions"]))

    @operation
    def enrich_and_export(
        self, write_to_timescale: bool = True, output_file: str | None = None
    ) -> Call[pd.DataFrame]:
        """The metrics DataFrame, written to Organism Trends when
        ``write_to_timescale`` (module docs for the two ways)."""
        return _enrich(self, write_to_timescale, output_file)

    @operation
    def snapshot(
        self,
        at: Instant | None = None,
        window_days: int | None = None,
        incremental: bool = False,
    ) -> Call[SnapshotSummary]:
        """Posts the built directory and interactions as a snapshot at
        ``at`` (default now) over ``window_days`` days (server default 28);
        ``incremental`` writes only employees whose metrics moved."""
        return _snapshot(self, at, window_days, incremental)


def _snapshot(
    graph: _GraphCalls, at: Instant | None, window_days: int | None, incremental: bool
) -> Call[SnapshotSummary]:
    body: dict[str, Any] = {
        "directory": graph._directory,
        "interactions": graph._interactions,
        "incremental": incremental,
    }
    if at is not None:
        body["at"] = utc_text(at)
    if window_days is not None:
        body["window_days"] = window_days
    response = yield Request("POST", "/api/graph/snapshots", json=body)
    return cast(SnapshotSummary, response.json())


def _enrich(graph: _GraphCalls, write: bool, output_file: str | None) -> Call[pd.DataFrame]:
    if graph._adapter is not None:
        df = graph._adapter.enrich_and_export(output_file=output_file)
        if write:
            yield from _post_parquet(parquet_of(df, None))
        return df
    if not write:
        raise ValueError("without a graph adapter the server computes the metrics, and always stores them")
    summary = yield from _snapshot(graph, None, None, False)
    row: pd.DataFrame = pd.DataFrame([dict(summary)])
    if output_file:
        row.to_csv(output_file, index=False)
    return row


class GraphBuilderWithTimescale(_GraphCalls, SyncService):
    """The graph builder with storage, blocking (needs a writer or admin key)."""

    def __init__(
        self,
        graph_adapter: GraphAdapter | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout, http_client=http_client)
        self._adopt(graph_adapter)


class AsyncGraphBuilderWithTimescale(_GraphCalls, AsyncService):
    """The graph builder with storage, ``await``-able."""

    def __init__(
        self,
        graph_adapter: GraphAdapter | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout, http_client=http_client)
        self._adopt(graph_adapter)
