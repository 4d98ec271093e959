"""Honest OpenAPI for every Relia component: what the app really answers, in its own schema.

FastAPI documents the happy path and a 422 shaped like its own validation errors. Relia's apps
also answer 400/403/413/415 (relia_web.guard), 401 (bearer token), 404 (unknown ids), 503
(/ready), their 422 bodies are `{"detail": <message | problems | {message, errors}>}`, and
/metrics is Prometheus text. `document(app, ...)` rewrites the generated document once so it
says all that; `AllowHeader` makes a 405 list every method of the path (Starlette lists only
the first route's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from relia_web.guard import MUTATING

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "description": "why: a message, a list of problems, or {message, errors}",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {}},
                {"type": "object"},
            ],
        }
    },
}
DESCRIPTIONS = {
    400: "Bad request: malformed JSON, JSON nested too deep, or a Host that is not served",
    401: "Missing or wrong bearer token (only when a token is configured)",
    403: "Cross-site request refused (foreign Origin or Sec-Fetch-Site: cross-site)",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Content-Type must be application/json",
    422: "Invalid input: which field and why",
    502: "A backend answered badly or not at all",
    503: "Not ready or unavailable",
}
METRICS_RESPONSE: dict[str, Any] = {
    "description": "Prometheus metrics (text exposition; OpenMetrics when asked by Accept)",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "application/openmetrics-text": {"schema": {"type": "string"}},
    },
}


def error_response(code: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or DESCRIPTIONS.get(code, "Error"),
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }


def json_body(schema: Mapping[str, Any], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself (`$defs` inlined)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": inline_defs(dict(schema))}},
        }
    }


def inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$defs` so a pydantic JSON schema is self-contained in the OpenAPI document."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
                return resolve(defs[ref.rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


def document(
    app: FastAPI,
    *,
    guarded: Callable[[str, str], bool] | None = None,
    token: bool = False,
    host_pinned: bool = False,
    extra: Mapping[str, Mapping[int, str | dict[str, Any]]] | None = None,
    metrics_path: str = "/metrics",
    patch: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Make `app.openapi()` list every answer the app gives.

    guarded(method, path): the requests relia_web.guard checks (400/403/413/415); token: they
    also may answer 401; host_pinned: every request may be a 400 (foreign Host); extra:
    {"GET /ready": {503: "why"}} for what only the route knows; patch(schema): last edits
    (a parameter's enum known only at run time, say)."""
    generate = app.openapi
    is_guarded = guarded or (lambda method, path: method in MUTATING)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                _document_operation(
                    operation,
                    method.upper(),
                    path,
                    guarded=is_guarded(method.upper(), path),
                    token=token,
                    host_pinned=host_pinned,
                    extra=(extra or {}).get(f"{method.upper()} {path}", {}),
                )
                if path == metrics_path and method == "get":
                    operation["responses"]["200"] = METRICS_RESPONSE
        _drop_unused_components(schema)
        if patch is not None:
            patch(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _drop_unused_components(schema: dict[str, Any]) -> None:
    """Drop FastAPI's default validation-error schemas, and the containers left empty."""
    for unused in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(unused, None)
    if not schema.get("components", {}).get("schemas", True):
        schema["components"].pop("schemas")
    if schema.get("components") == {}:
        schema.pop("components")


def _document_operation(
    operation: dict[str, Any],
    method: str,
    path: str,
    *,
    guarded: bool,
    token: bool,
    host_pinned: bool,
    extra: Mapping[int, str | dict[str, Any]],
) -> None:
    responses: dict[str, Any] = operation["responses"]
    codes: dict[int, str | None] = {}
    if "{" in path:
        codes[404] = None
    if operation.get("parameters") or operation.get("requestBody"):
        codes[422] = None
    if operation.get("requestBody"):
        codes[400] = None  # a body that is not JSON at all
    if method in MUTATING and guarded:
        codes.update({400: None, 403: None, 413: None, 415: None})
        if token:
            codes[401] = None
    if host_pinned:
        codes[400] = None
    for code, description in codes.items():
        responses.setdefault(str(code), error_response(code, description))
    if "422" in responses:  # FastAPI's HTTPValidationError is not what Relia's apps send
        responses["422"] = error_response(422, responses["422"].get("description"))
    for code, answer in extra.items():  # a description (error body) or a whole response
        responses[str(code)] = error_response(code, answer) if isinstance(answer, str) else answer


class AllowHeader:
    """A 405 answers `Allow:` with every method the OpenAPI document lists for the path (one
    Starlette route per method would list only its own)."""

    def __init__(self, app: Any, *, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self._paths: list[tuple[re.Pattern[str], set[str]]] | None = None
        self._templates: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self.methods(scope["path"])
                if methods:
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    allow = (b"allow", ", ".join(sorted(methods)).encode())
                    message = {**message, "headers": [*kept, allow]}
            await send(message)

        await self.app(scope, receive, wrapped)

    def methods(self, path: str) -> set[str]:
        if self._paths is None:
            paths = self.openapi().get("paths", {})
            self._templates = list(paths)
            self._paths = [
                (_template(template), {m.upper() for m in item if m.upper() in _HTTP_METHODS})
                for template, item in paths.items()
            ]
        found: set[str] = set()
        for template, (pattern, methods) in zip(self._templates, self._paths, strict=True):
            if pattern.fullmatch(path):
                if "{" not in template:  # a concrete path wins over templated ones
                    return set(methods)
                found |= methods
        return found


_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))
