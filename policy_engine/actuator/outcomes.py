"""`ActionOutcome`s as both backends report them: succeeded, a no-op at a bound, failed."""

from __future__ import annotations

import time

from policy_engine.actuator.types import ActionOutcome, ScaleParams


def short(exc: BaseException, limit: int = 300) -> str:
    """`Type: message`, cut to `limit` characters (an outcome's error stays readable)."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def outcome(
    started: float,
    status: str,
    targets: list[str],
    detail: str,
    error: str | None = None,
    before: int | None = None,
    after: int | None = None,
) -> ActionOutcome:
    return ActionOutcome.model_validate(
        {
            "status": status,
            "targets": targets,
            "detail": detail,
            "error": error,
            "replicas_before": before,
            "replicas_after": after,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
    )


def failed(
    started: float,
    done: list[str],
    service: str,
    error: str,
    before: int | None,
    after: int | None = None,
) -> ActionOutcome:
    partial = f" after acting on {', '.join(done)}" if done else ""
    return outcome(started, "failed", done, f"{service}: failed{partial}", error, before, after)


def at_bound(started: float, params: ScaleParams, before: int) -> ActionOutcome:
    """The no-op of a scale whose target is the count it has: it is at the policy's bound."""
    bound = "max_replicas" if params.direction == "up" else "min_replicas"
    limit = params.max_replicas if params.direction == "up" else params.min_replicas
    return outcome(
        started,
        "noop",
        [],
        f"{params.service} already at {bound}={limit} ({before} replicas)",
        before=before,
        after=before,
    )
