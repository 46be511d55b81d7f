"""What the functions tell their operators: JSON log lines and CloudWatch metrics.

Built on Powertools for AWS Lambda (Python): its JSON log formatter and its embedded metric
format (EMF) serialiser. EMF lines in the log become CloudWatch metrics without an API call
(and without an IAM grant). Both are imported on first use only, so a request that logs
nothing and counts nothing (a webhook accepted, an operator read) imports neither.

Metrics are summed per invocation and written once at its end (``invocation``), one EMF line
per dimension set: namespace ``salesbridge``, dimension ``service`` = ``salesbridge-<stage>``,
and each metric once alone and once per detail (connector, event type, target or reason).
Log lines carry the function, and while a record is processed its connector, correlation id
and receipt id (``record``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Any, Protocol

NAMESPACE_DEFAULT = "salesbridge"
SERVICE_DEFAULT = "salesbridge-local"
_QUIET = ("botocore", "boto3", "urllib3", "httpx", "httpcore", "aws_xray_sdk")

_context: ContextVar[dict[str, str]] = ContextVar("salesbridge_log_context", default={})  # noqa: B039 - never mutated
_lock = threading.Lock()
_sums: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
_maxima: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
_configured = False


class Inbound(Protocol):
    """What a record's log context needs (an InboundRecord has it)."""

    @property
    def connector(self) -> str: ...

    @property
    def dedupe_key(self) -> str: ...

    @property
    def receipt_id(self) -> str | None: ...


# ----------------------------------------------------------------------------- metrics
def count(metric: str, value: float = 1, **detail: str) -> None:
    """Add to a counter (unit Count) for this invocation; ``detail`` is at most one dimension."""
    key = (metric, "Count", tuple(sorted(detail.items())))
    with _lock:
        _sums[key] = _sums.get(key, 0) + value


def gauge(metric: str, value: float, unit: str = "Seconds", **detail: str) -> None:
    """Record a level; the invocation reports the largest value it saw."""
    key = (metric, unit, tuple(sorted(detail.items())))
    with _lock:
        _maxima[key] = max(_maxima.get(key, value), value)


def flush(stream: IO[str] | None = None) -> int:
    """Write the invocation's metrics as EMF lines (stdout: the function's log); returns lines written."""
    with _lock:
        values = [(k, v) for k, v in _sums.items()] + [(k, v) for k, v in _maxima.items()]
        _sums.clear()
        _maxima.clear()
    if not values:
        return 0
    import json

    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    by_detail: dict[tuple[tuple[str, str], ...], list[tuple[str, str, float]]] = {}
    for (metric, unit, detail), value in values:
        by_detail.setdefault(detail, []).append((metric, unit, value))
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE_DEFAULT)
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_DEFAULT)
    out = stream or sys.stdout
    for detail, metrics in by_detail.items():
        emf = EphemeralMetrics(namespace=namespace, service=service)
        for name, dimension in detail:
            emf.add_dimension(name=name, value=dimension)
        if detail:
            emf.add_dimensions(service=service)  # the same values, summed over every detail
        for metric, unit, value in metrics:
            emf.add_metric(name=metric, unit=MetricUnit(unit), value=value)
        out.write(json.dumps(emf.serialize_metric_set(), separators=(",", ":")) + "\n")
        out.flush()
    return len(by_detail)


# ----------------------------------------------------------------------------- logs
class _ContextFilter(logging.Filter):
    """Adds the function and the record being processed to every log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Formats with Powertools' JSON formatter, imported at the first line actually written."""

    def format(self, record: logging.LogRecord) -> str:
        if self.formatter is None:
            from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

            self.setFormatter(
                LambdaPowertoolsFormatter(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE_DEFAULT), utc=True, use_rfc3339=True)
            )
        return super().format(record)


def wanted() -> bool:
    """JSON logs where an operator reads them: in Lambda, and in the local stack (its worker and API)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("SALESBRIDGE_JSON_LOGS"))


def configure_logging(stream: IO[str] | None = None) -> logging.Handler:
    """Route every logger through one JSON handler on the root logger (Lambda's own handler replaced)."""
    global _configured
    handler = _JsonHandler(stream or sys.stdout)
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    _through_root(logging.getLogger("salesbridge"))
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
    return handler


def _through_root(app_logger: logging.Logger) -> None:
    """Chalice gives the app's logger ("salesbridge") a plain handler at ERROR when the app is created."""
    if app_logger.handlers or not app_logger.propagate:
        app_logger.handlers = []
        app_logger.propagate = True
        app_logger.setLevel(logging.NOTSET)


@contextmanager
def invocation(function: str) -> Iterator[None]:
    """One Lambda invocation: its log lines name the function; its metrics are written at the end."""
    if not _configured and wanted():
        configure_logging()
    elif _configured:
        _through_root(logging.getLogger("salesbridge"))  # the app may have been created since
    token = _context.set({"function": function})
    try:
        yield
    finally:
        _context.reset(token)
        flush()


@contextmanager
def record(inbound: Inbound) -> Iterator[None]:
    """While one record is processed, log lines carry its connector, correlation and receipt ids."""
    keys = dict(_context.get())
    keys.update(connector=inbound.connector, correlation_id=inbound.receipt_id or inbound.dedupe_key)
    if inbound.receipt_id:
        keys["receipt_id"] = inbound.receipt_id
    token = _context.set(keys)
    try:
        yield
    finally:
        _context.reset(token)


_log = logging.getLogger("salesbridge.records")
_OUTCOME_METRICS = {
    "applied": "RecordsApplied",
    "duplicate": "RecordsDuplicate",
    "stale": "RecordsStale",
    "quarantined": "RecordsQuarantined",
    "skipped": "RecordsSkipped",
}


def processed(inbound: Inbound, status: str, **details: Any) -> None:
    """A record's outcome: counted per connector and logged (inside ``record``: with its ids)."""
    count("RecordsReceived", connector=inbound.connector)
    count(_OUTCOME_METRICS.get(status, "RecordsOther"), connector=inbound.connector)
    _log.info("record %s", status, extra={"outcome": status, **details})
