"""Shared request plumbing: the engine, bearer-token auth, bounded strict JSON bodies."""

from __future__ import annotations

import hmac
import json
import math
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from policy_engine.engine import Engine

M = TypeVar("M", bound=BaseModel)


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def require_token(request: Request) -> None:
    """Mutating endpoints: with POLICY_ENGINE_TOKEN set, demand `Authorization: Bearer <token>`."""
    token = get_engine(request).settings.policy_engine_token
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        get_engine(request).metrics.rejected.labels(request.url.path).inc()
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token (Authorization: Bearer <POLICY_ENGINE_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is out of range (numbers must be finite)")
    return value


async def read_body(request: Request) -> bytes:
    """The raw body, refusing more than max_body_bytes before reading it all (413)."""
    engine = get_engine(request)
    limit = engine.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        engine.metrics.rejected.labels(request.url.path).inc()
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            engine.metrics.rejected.labels(request.url.path).inc()
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(request: Request, body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity; 400 with the parser's reason otherwise."""
    try:
        return json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (UnicodeDecodeError, ValueError) as exc:
        get_engine(request).metrics.rejected.labels(request.url.path).inc()
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None


def validate_model(request: Request, model: type[M], data: Any) -> M:
    """Pydantic validation with a readable 422: 'field.path: message' per problem."""
    try:
        # strict: JSON types as declared (no true -> 1, no "1" -> 1), as the schema says
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        get_engine(request).metrics.rejected.labels(request.url.path).inc()
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise HTTPException(
            422, {"message": "invalid request body", "errors": problems[:20]}
        ) from None
