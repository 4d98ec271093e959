"""JSON logs: one object per line with ts, level, service, message, trace_id, span_id."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else passed through `extra` becomes a JSON field.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "service",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}


def current_trace_ids() -> tuple[str | None, str | None]:
    """The trace and span id of the current span, hex, or (None, None) outside any span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = current_trace_ids()
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "service": getattr(record, "service", None) or self.service,
            "message": record.getMessage(),
            "trace_id": trace_id,
            "span_id": span_id,
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure_logging(service: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route the root logger (and uvicorn's) to one JSON handler on stdout."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # Exporter retries and instrumentation warnings are useful, but not at debug volume.
    logging.getLogger("opentelemetry").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.Formatter.converter = time.gmtime


class ServiceLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records carry `service` (several apps can share one test process).

    Unlike the stdlib adapter it merges the caller's `extra` fields instead of dropping them.
    """

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **(self.extra or {})}
        return msg, kwargs


def service_logger(service: str) -> ServiceLogger:
    return ServiceLogger(logging.getLogger(f"services.{service}"), {"service": service})
