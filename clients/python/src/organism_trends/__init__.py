"""Organism Trends from Python: the requirements document's
``TimescaleMetricsWriter``, ``TimescaleQueryService``,
``InterventionAuditLogger`` and ``GraphBuilderWithTimescale`` over the REST
API.

Every class comes blocking (``QueryService``) and ``await``-able
(``AsyncQueryService``), with the same methods; both read the base URL from
``ORGANISM_URL`` (default ``http://127.0.0.1:8080``) and the key from
``ORGANISM_API_KEY`` unless given. Errors are :class:`OrganismError`
subclasses; 503 answers are retried as :class:`RetryPolicy` says.
"""

from ._protocol import DEFAULT_URL, NO_RETRY, RetryPolicy
from .errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    OrganismError,
    PayloadTooLarge,
    ServerError,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from .graph import AsyncGraphBuilderWithTimescale, GraphAdapter, GraphBuilderWithTimescale
from .services import (
    AsyncInterventionAuditLogger,
    AsyncMetricsWriter,
    AsyncQueryService,
    InterventionAuditLogger,
    MetricsWriter,
    QueryService,
)
from .types import METRIC_NAMES, MetricName

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL",
    "METRIC_NAMES",
    "NO_RETRY",
    "AsyncGraphBuilderWithTimescale",
    "AsyncInterventionAuditLogger",
    "AsyncMetricsWriter",
    "AsyncQueryService",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "GraphAdapter",
    "GraphBuilderWithTimescale",
    "InterventionAuditLogger",
    "MetricName",
    "MetricsWriter",
    "NotFound",
    "OrganismError",
    "PayloadTooLarge",
    "QueryService",
    "RetryPolicy",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMediaType",
    "__version__",
]
