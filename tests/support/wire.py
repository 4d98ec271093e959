"""Does a route's response model change what the route answers?

`add_raw_twins` serves each modelled GET route a second time under RAW, on the same app (same
state, loop and thread), without its response model: what the handler built, as FastAPI encodes
it. `differences` then compares two JSON bodies strictly: same keys, and the same JSON type at
every place (1 and 1.0 differ, as they do to a Python consumer), so a model that drops, adds,
renames, nulls or converts anything shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

RAW = "/__raw"


def add_raw_twins(app: FastAPI) -> dict[str, type[Any]]:
    """Twin every GET route that has a response model; return {path: model}."""
    modelled: dict[str, type[Any]] = {}
    for route in list(app.router.routes):
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        if route.response_model is None:
            continue
        modelled[route.path] = route.response_model
        app.add_api_route(
            RAW + route.path,
            route.endpoint,
            methods=["GET"],
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
