"""Fault engine core: fault models, the active set and per-request decisions. No I/O here.

The runtime (`services.common.chaos`) applies what this module decides: it sleeps, answers
errors, burns CPU, allocates memory, parks requests and exits the process.
"""

from __future__ import annotations

import itertools
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from relia_contracts.faults import (
    FAULT_SPEC_ADAPTER,
    KINDS,
    MAX_ACTIVE_FAULTS,
    SPEC_BY_KIND,
    CpuFault,
    ErrorsFault,
    FaultSpec,
    HangFault,
    LatencyFault,
    MemoryFault,
)


class FaultRequestError(ValueError):
    """A fault request that cannot be accepted; `message` is meant for humans."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


def _describe(errors: Iterable[Any]) -> tuple[str, list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    parts: list[str] = []
    for err in errors:
        # The first location element is the union tag (e.g. "latency"): drop it for readability.
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        where = ".".join(loc) or "body"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            message = "unknown parameter"
        items.append({"field": where, "message": message})
        parts.append(f"{where}: {message}")
    return "; ".join(parts), items


def parse_fault(body: Any) -> FaultSpec:
    """Validate a fault request body; raise FaultRequestError with a readable message."""
    if not isinstance(body, dict):
        raise FaultRequestError('the body must be a JSON object like {"kind": "latency", ...}')
    kind = body.get("kind")
    if kind is None:
        raise FaultRequestError(f"missing 'kind'; expected one of {', '.join(KINDS)}")
    if not isinstance(kind, str) or kind not in SPEC_BY_KIND:
        raise FaultRequestError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return FAULT_SPEC_ADAPTER.validate_python(body)
    except ValidationError as exc:
        message, items = _describe(exc.errors())
        raise FaultRequestError(f"invalid {kind} fault: {message}", items) from None


@dataclass(frozen=True)
class Fault:
    """An active fault: the validated spec plus identity and lifetime."""

    id: str
    spec: FaultSpec
    started_at: float
    expires_at: float | None

    @property
    def kind(self) -> str:
        return self.spec.kind

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.spec.kind,
            "params": self.spec.params(),
            "duration_s": self.spec.duration_s,
            "started_at": self.started_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class RequestDecision:
    """What the fault engine does to one request, in this order: hang, delay, error."""

    hang: bool = False
    delay_s: float = 0.0
    error_status: int | None = None
    fault_ids: tuple[str, ...] = ()

    @property
    def untouched(self) -> bool:
        return not self.hang and self.delay_s <= 0 and self.error_status is None


@dataclass(frozen=True)
class NoiseConfig:
    """Background noise of the original design (CHAOS_ENABLED, FAILURE_RATE, LATENCY_SPIKE_RATE)."""

    enabled: bool = False
    failure_rate: float = 0.0
    latency_spike_rate: float = 0.0
    spike_ms: float = 0.0


class TooManyFaults(FaultRequestError):
    pass


@dataclass
class FaultSet:
    """The active faults of one process. Not thread-safe: used from the event loop only."""

    max_faults: int = MAX_ACTIVE_FAULTS
    _faults: dict[str, Fault] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: FaultSpec, now: float) -> Fault:
        self.expire(now)
        if len(self._faults) >= self.max_faults:
            raise TooManyFaults(f"at most {self.max_faults} active faults; clear some first")
        fault_id = f"f-{next(self._counter)}-{secrets.token_hex(3)}"
        expires = now + spec.duration_s if spec.duration_s is not None else None
        fault = Fault(fault_id, spec, now, expires)
        self._faults[fault_id] = fault
        return fault

    def expire(self, now: float) -> list[Fault]:
        """Drop faults whose duration ended; return them."""
        gone = [f for f in self._faults.values() if f.expired(now)]
        for fault in gone:
            del self._faults[fault.id]
        return gone

    def active(self, now: float) -> list[Fault]:
        self.expire(now)
        return list(self._faults.values())

    def of_kind(self, kind: str, now: float) -> list[Fault]:
        return [f for f in self.active(now) if f.kind == kind]

    def remove(self, fault_id: str) -> Fault | None:
        return self._faults.pop(fault_id, None)

    def clear(self) -> list[Fault]:
        gone = list(self._faults.values())
        self._faults.clear()
        return gone

    def __len__(self) -> int:
        return len(self._faults)

    def decide(
        self, now: float, rng: random.Random, noise: NoiseConfig | None = None
    ) -> RequestDecision:
        """Roll the dice for one request against every active fault (and background noise)."""
        hang = False
        delay_s = 0.0
        status: int | None = None
        hit: list[str] = []
        for fault in self.active(now):
            spec = fault.spec
            if isinstance(spec, HangFault):
                if not hang and rng.random() < spec.probability:
                    hang = True
                    hit.append(fault.id)
            elif isinstance(spec, LatencyFault):
                if rng.random() < spec.probability:
                    jitter = rng.uniform(-spec.jitter_ms, spec.jitter_ms) if spec.jitter_ms else 0
                    delay_s += max(0.0, spec.ms + jitter) / 1000.0
                    hit.append(fault.id)
            elif isinstance(spec, ErrorsFault) and status is None and rng.random() < spec.rate:
                status = spec.status
                hit.append(fault.id)
        if noise is not None and noise.enabled:
            if noise.latency_spike_rate > 0 and rng.random() < noise.latency_spike_rate:
                # Spikes vary between half and the full configured size.
                delay_s += rng.uniform(0.5, 1.0) * noise.spike_ms / 1000.0
                hit.append("noise-latency")
            if status is None and noise.failure_rate > 0 and rng.random() < noise.failure_rate:
                status = 500
                hit.append("noise-error")
        return RequestDecision(
            hang=hang, delay_s=delay_s, error_status=status, fault_ids=tuple(hit)
        )

    def cpu_intensity(self, now: float) -> float:
        """Total CPU asked for, capped at one core."""
        total = sum(
            f.spec.intensity for f in self.of_kind("cpu", now) if isinstance(f.spec, CpuFault)
        )
        return min(1.0, total)

    def memory_target(self, now: float, held_mb: float, elapsed_s: float) -> float:
        """How many MB should be held after `elapsed_s` more seconds of every memory fault."""
        faults = [f.spec for f in self.of_kind("memory", now) if isinstance(f.spec, MemoryFault)]
        if not faults:
            return 0.0
        rate = sum(s.mb_per_s for s in faults)
        cap = max(s.max_mb for s in faults)
        return min(float(cap), held_mb + rate * elapsed_s)

    def hanging(self, now: float) -> bool:
        return bool(self.of_kind("hang", now))
