"""Metrics labels (route templates, exclusions), JSON log format and trace ids, tracing set-up."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.common.logs import JsonFormatter, current_trace_ids
from services.common.metrics import DURATION_BUCKETS, is_operational
from services.common.tracing import build_tracer_provider, export_endpoint_configured


def _duration_samples(text: str) -> list[dict[str, str]]:
    for family in text_string_to_metric_families(text):
        if family.name == "http_server_request_duration_seconds":
            return [s.labels for s in family.samples if s.name.endswith("_count")]
    return []


def test_route_template_labels_and_exclusions(users_app, serving) -> None:
    async def main() -> str:
        async with serving(users_app()) as client:
            for uid in ("u-1", "u-2", "u-404"):
                await client.get(f"/users/{uid}")
            await client.post("/users", json={"name": "Kat", "email": "kat@example.com"})
            await client.get("/no/such/path")
            await client.delete("/users")  # wrong method: 405 on a known template
            for path in ("/health", "/ready", "/metrics", "/chaos", "/docs", "/openapi.json"):
                await client.get(path)
            await client.post("/chaos", json={"kind": "errors", "rate": 1, "status": 502})
            await client.get("/users/u-3")
            return (await client.get("/metrics")).text

    text = asyncio.run(main())
    labels = {(s["method"], s["route"], s["status_code"]) for s in _duration_samples(text)}
    assert labels == {
        ("GET", "/users/{user_id}", "200"),
        ("GET", "/users/{user_id}", "404"),
        ("POST", "/users", "201"),
        ("GET", "unmatched", "404"),
        ("DELETE", "/users", "405"),
        ("GET", "/users/{user_id}", "502"),  # an injected error keeps its template
    }
    counts = {
        (s.labels["route"], s.labels["status_code"]): s.value
        for f in text_string_to_metric_families(text)
        if f.name == "http_server_request_duration_seconds"
        for s in f.samples
        if s.name.endswith("_count")
    }
    assert counts[("/users/{user_id}", "200")] == 2
    # Process collector and domain counters are on the same (explicit) registry.
    assert "process_cpu_seconds_total" in text
    assert "process_resident_memory_bytes" in text
    assert "users_created_total 1.0" in text
    assert 'users_lookups_total{result="not_found"} 1.0' in text


def test_buckets_resolve_20ms_to_800ms() -> None:
    inside = [b for b in DURATION_BUCKETS if 0.02 <= b <= 0.8]
    assert len(inside) >= 15
    assert 0.02 in DURATION_BUCKETS
    assert 0.8 in DURATION_BUCKETS


def test_operational_paths() -> None:
    for path in ("/health", "/ready", "/metrics", "/chaos", "/chaos/f-1", "/docs", "/openapi.json"):
        assert is_operational(path), path
    for path in ("/users", "/orders/o-1", "/healthz", "/chaosmonkey"):
        assert not is_operational(path), path


def test_instrumentation_off_records_nothing(users_app, serving) -> None:
    async def main() -> str:
        async with serving(users_app(instrumentation_enabled=False)) as client:
            assert (await client.get("/users/u-1")).status_code == 200
            return (await client.get("/metrics")).text

    text = asyncio.run(main())
    assert _duration_samples(text) == []
    assert "process_cpu_seconds_total" in text


class _Capture:
    def __init__(self, service: str) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter(service))
        self.logger = logging.getLogger("services")

    def __enter__(self) -> _Capture:
        self.logger.addHandler(self.handler)
        self.old_level = self.logger.level
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.old_level)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


def test_request_logs_are_json_with_the_callers_trace(users_app, serving) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}

    async def main() -> None:
        async with serving(users_app()) as client:
            await client.post(
                "/users", json={"name": "Ann", "email": "ann@example.com"}, headers=headers
            )

    with _Capture("users") as capture:
        asyncio.run(main())
    lines = capture.lines()
    traced = [x for x in lines if x["trace_id"] == trace_id]
    messages = {x["message"] for x in traced}
    assert {"user created", "POST /users 201"} <= messages
    for entry in traced:
        assert {"ts", "level", "service", "message", "trace_id", "span_id"} <= entry.keys()
        assert entry["service"] == "users"
        assert len(entry["span_id"]) == 16
        assert entry["span_id"] != "00f067aa0ba902b7"
        assert isinstance(entry["ts"], float)
    request_line = next(x for x in traced if x["message"] == "POST /users 201")
    assert request_line["level"] == "info"
    assert request_line["status_code"] == 201
    assert request_line["route"] == "/users"
    assert request_line["duration_ms"] > 0
    # Outside a request there is no span: ids are null, not made up.
    started = next(x for x in lines if x["message"] == "service started")
    assert started["trace_id"] is None
    assert started["span_id"] is None


def test_formatter_outside_spans_and_with_extras() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("w",), None)
    record.fault_id = "f-1"
    entry = json.loads(JsonFormatter("payments").format(record))
    assert entry["message"] == "hello w"
    assert entry["level"] == "warning"
    assert entry["service"] == "payments"
    assert entry["fault_id"] == "f-1"
    assert entry["trace_id"] is None
    assert current_trace_ids() == (None, None)


def test_operational_paths_are_not_traced() -> None:
    from opentelemetry.util.http import parse_excluded_urls

    from services.common.app import TRACE_EXCLUDED

    excluded = parse_excluded_urls(TRACE_EXCLUDED)
    for path in ("/health", "/ready", "/metrics", "/chaos", "/chaos/f-1", "/docs", "/openapi.json"):
        assert excluded.url_disabled(f"http://127.0.0.1:8000{path}"), path
    for path in ("/users", "/users/health", "/orders/o-1", "/payments/authorize", "/healthz"):
        assert not excluded.url_disabled(f"http://orders:8000{path}"), path


def test_exporter_only_with_an_endpoint() -> None:
    assert not export_endpoint_configured({})
    assert not export_endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})
    assert export_endpoint_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4318"})
    quiet = build_tracer_provider("users", env={})
    assert quiet._active_span_processor._span_processors == ()
    loud = build_tracer_provider("users", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert len(loud._active_span_processor._span_processors) == 1
    assert loud.resource.attributes["service.name"] == "users"
    loud.shutdown()


def test_openmetrics_exposition_carries_trace_exemplars(users_app, serving) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    headers = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"}
    accept = {"accept": "application/openmetrics-text; version=1.0.0"}

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with serving(users_app()) as client:
            await client.get("/users/u-1", headers=headers)
            return await client.get("/metrics", headers=accept), await client.get("/metrics")

    open_metrics, plain = asyncio.run(main())
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    bucket_lines = [
        line
        for line in open_metrics.text.splitlines()
        if line.startswith("http_server_request_duration_seconds_bucket") and "# {" in line
    ]
    assert len(bucket_lines) == 1
    assert f'trace_id="{trace_id}"' in bucket_lines[0]
    assert open_metrics.text.rstrip().endswith("# EOF")
    assert plain.headers["content-type"].startswith("text/plain")
    assert trace_id not in plain.text
