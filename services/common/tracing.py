"""OpenTelemetry tracing: an SDK provider always (ids exist and propagate), export only if asked."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def export_endpoint_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(name, "").strip() for name in ENDPOINT_VARS)


def build_tracer_provider(service: str, env: Mapping[str, str] | None = None) -> TracerProvider:
    """A provider for one app, passed explicitly to the instrumentations (no global state).

    The OTLP/HTTP exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself; without an
    endpoint no exporter is created, so nothing retries against a collector that is not there.
    """
    env = os.environ if env is None else env
    attributes = {"service.name": env.get("OTEL_SERVICE_NAME") or service}
    provider = TracerProvider(resource=Resource.create(attributes))
    if export_endpoint_configured(env):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
