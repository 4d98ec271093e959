"""Fault kinds and their parameters with bounds: the body of `POST /chaos` on every service.

The services validate with these models and the chaos CLI derives its checks from them, so a
bound changes in one place. Standard library and pydantic only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

# Generous caps: a fault is a drill, not a way to take the host down.
MAX_LATENCY_MS = 60_000.0
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_MEMORY_MB = 8192
MAX_MB_PER_S = 1024.0
MAX_ACTIVE_FAULTS = 32

FaultKind = Literal["latency", "errors", "cpu", "memory", "hang", "crash"]
KINDS: tuple[str, ...] = get_args(FaultKind)


def _whole(value: Any) -> Any:
    """JSON Schema's `integer` includes 254.0: take a whole float as the integer it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE = BeforeValidator(_whole)


class FaultBase(BaseModel):
    # strict: "800" is not a number of milliseconds; extra=forbid: a typo is an error.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    duration_s: Annotated[float, Field(gt=0, le=MAX_DURATION_S)] | None = None

    def params(self) -> dict[str, Any]:
        """The kind-specific parameters, without `kind` and `duration_s`."""
        return self.model_dump(exclude={"kind", "duration_s"})


class LatencyFault(FaultBase):
    kind: Literal["latency"]
    ms: Annotated[float, Field(gt=0, le=MAX_LATENCY_MS)]
    jitter_ms: Annotated[float, Field(ge=0, le=MAX_LATENCY_MS)] = 0.0
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0


class ErrorsFault(FaultBase):
    kind: Literal["errors"]
    rate: Annotated[float, Field(ge=0, le=1)]
    status: Annotated[int, Field(ge=500, le=599), WHOLE] = 500


class CpuFault(FaultBase):
    kind: Literal["cpu"]
    intensity: Annotated[float, Field(gt=0, le=1)] = 1.0


class MemoryFault(FaultBase):
    kind: Literal["memory"]
    mb_per_s: Annotated[float, Field(gt=0, le=MAX_MB_PER_S)]
    max_mb: Annotated[int, Field(gt=0, le=MAX_MEMORY_MB), WHOLE] = 512


class HangFault(FaultBase):
    kind: Literal["hang"]
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0


class CrashFault(FaultBase):
    kind: Literal["crash"]
    exit_code: Annotated[int, Field(ge=0, le=255), WHOLE] = 1


FaultSpec = LatencyFault | ErrorsFault | CpuFault | MemoryFault | HangFault | CrashFault
_SPECS: tuple[type[FaultBase], ...] = (
    LatencyFault,
    ErrorsFault,
    CpuFault,
    MemoryFault,
    HangFault,
    CrashFault,
)
# kind -> model, read from each model's `kind` literal (the words are written once, above).
SPEC_BY_KIND: dict[str, type[FaultBase]] = {
    get_args(spec.model_fields["kind"].annotation)[0]: spec for spec in _SPECS
}
assert set(SPEC_BY_KIND) == set(KINDS), "every fault kind has exactly one model"
FAULT_SPEC_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(
    Annotated[FaultSpec, Field(discriminator="kind")]
)
