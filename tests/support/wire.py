"""Does a route's response model change what the route answers?

`add_raw_twins` serves each modelled GET route a second time under RAW, on the same app (same
state, loop and thread), without its response model: what the handler built, as FastAPI encodes
it. `differences` then compares two JSON bodies strictly: same keys, and the same JSON type at
every place (1 and 1.0 differ, as they do to a Python consumer), so a model that drops, adds,
renames, nulls or converts anything shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

RAW = "/__raw"


def api_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, also of included routers (FastAPI >= 0.13x keeps
    those as one entry that wraps the router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def add_raw_twins(app: FastAPI, method: str = "GET") -> dict[str, type[Any]]:
    """Twin every route of `method` that has a response model; return {path: model}."""
    modelled: dict[str, type[Any]] = {}
    for path, route in list(api_routes(app.router.routes)):
        if method not in route.methods:
            continue
        if route.response_model is None:
            continue
        modelled[path] = route.response_model
        app.add_api_route(
            RAW + path,
            route.endpoint,
            methods=[method],
            response_model=None,
            include_in_schema=False,
        )
    return modelled


def differences(modelled: Any, raw: Any, where: str = "$") -> list[str]:
    """Every place where two decoded JSON bodies differ in key, type or value."""
    if type(modelled) is not type(raw):
        return [f"{where}: {type(raw).__name__} {raw!r} became {type(modelled).__name__}"]
    if isinstance(raw, dict):
        out = [f"{where}.{k}: dropped" for k in raw if k not in modelled]
        out += [f"{where}.{k}: added" for k in modelled if k not in raw]
        for key in raw.keys() & modelled.keys():
            out += differences(modelled[key], raw[key], f"{where}.{key}")
        return out
    if isinstance(raw, list):
        if len(raw) != len(modelled):
            return [f"{where}: {len(raw)} items became {len(modelled)}"]
        return [
            d
            for i, pair in enumerate(zip(modelled, raw, strict=True))
            for d in differences(*pair, f"{where}[{i}]")
        ]
    return [] if raw == modelled else [f"{where}: {raw!r} became {modelled!r}"]


def schema_ref(doc: dict[str, Any], path: str, method: str = "get", status: str = "200") -> Any:
    """The JSON schema the OpenAPI document gives for a route's answer."""
    content = doc["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]
