"""Operator feedback (pure): noise/confirmed labels, per-series sensitivity and mutes, precision.

A `noise` label widens that series' severity thresholds by `step` (capped at `max_factor`) and
may mute it for a while; a `confirmed` label takes one step back toward 1 and ends a mute (the
detector was right to speak). DELETE /sensitivity/{series_id} resets both. Nothing decays on
its own: a widened series stays visible in /sensitivity and /predict until someone resets it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, get_args

from relia_contracts.anomalies import FeedbackLabel, FeedbackRecord

LABELS: tuple[str, ...] = get_args(FeedbackLabel)


def series_id(metric: str, labels: dict[str, str]) -> str:
    """16 hex chars naming one series (metric and labels), stable across restarts."""
    parts = [f"metric={metric}", *(f"{k}={v}" for k, v in sorted(labels.items()))]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Limits:
    step: float = 1.5  # each noise label multiplies the thresholds by this
    max_factor: float = 4.0  # never wider than this (z_warning 6 -> 24 spreads)
    max_mute_s: float = 7 * 86400.0

    def __post_init__(self) -> None:
        if not (self.step > 1.0 and self.max_factor >= 1.0 and self.max_mute_s > 0):
            raise ValueError("need step > 1, max_factor >= 1 and max_mute_s > 0")


@dataclass(frozen=True)
class Sensitivity:
    """One series' operator-set sensitivity: 1.0 and no mute is the detector's own."""

    series_id: str
    service: str
    metric: str
    labels: dict[str, str] = field(default_factory=dict)
    factor: float = 1.0
    muted_until: float | None = None
    noise: int = 0
    confirmed: int = 0
    updated_at: float = 0.0

    def muted(self, now: float) -> bool:
        return self.muted_until is not None and now < self.muted_until

    def neutral(self, now: float) -> bool:
        return self.factor == 1.0 and not self.muted(now)

    def view(self, now: float) -> dict[str, Any]:
        body = asdict(self)
        body["muted"] = self.muted(now)
        return body


def apply_label(
    current: Sensitivity, label: str, mute_for_s: float | None, now: float, limits: Limits
) -> Sensitivity:
    """The series' sensitivity after one label (bounded: 1 <= factor <= max_factor)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if mute_for_s is not None and not 0 < mute_for_s <= limits.max_mute_s:
        raise ValueError(f"mute_for_s must be in (0, {limits.max_mute_s:g}]")
    if label == "noise":
        until = current.muted_until if current.muted(now) else None
        if mute_for_s is not None:
            until = max(until or 0.0, now + mute_for_s)
        return replace(
            current,
            factor=min(current.factor * limits.step, limits.max_factor),
            muted_until=until,
            noise=current.noise + 1,
            updated_at=now,
        )
    return replace(
        current,
        factor=max(1.0, current.factor / limits.step),
        muted_until=None,
        confirmed=current.confirmed + 1,
        updated_at=now,
    )


def reset(current: Sensitivity, now: float) -> Sensitivity:
    """Back to the detector's own thresholds, mute lifted; the label counts stay."""
    return replace(current, factor=1.0, muted_until=None, updated_at=now)


def new_record(
    anomaly: dict[str, Any],
    sid: str,
    label: FeedbackLabel,
    reason: str,
    mute_for_s: float | None,
    after: Sensitivity,
    now: float,
) -> FeedbackRecord:
    return FeedbackRecord(
        id=f"f-{uuid.uuid4().hex[:16]}",
        at=now,
        anomaly_id=str(anomaly["id"]),
        series_id=sid,
        service=str(anomaly["service"]),
        metric=str(anomaly["metric"]),
        label=label,
        reason=reason,
        mute_for_s=mute_for_s,
        factor_after=after.factor,
        muted_until=after.muted_until,
    )


def precision(records: Iterable[FeedbackRecord]) -> dict[str, Any]:
    """Per signal (service, metric): confirmed / (confirmed + noise), counting each anomaly
    once by its latest label (an operator who changes their mind is not counted twice)."""
    latest: dict[str, FeedbackRecord] = {}
    for r in sorted(records, key=lambda r: (r.at, r.id)):
        latest[r.anomaly_id] = r
    per: dict[tuple[str, str], list[int]] = {}
    for r in latest.values():
        counts = per.setdefault((r.service, r.metric), [0, 0])
        counts[0 if r.label == "confirmed" else 1] += 1
    signals = [
        {
            "service": service,
            "metric": metric,
            "confirmed": c,
            "noise": n,
            "precision": c / (c + n),
        }
        for (service, metric), (c, n) in sorted(per.items())
    ]
    confirmed = sum(c for c, _ in per.values())
    noise = sum(n for _, n in per.values())
    overall = confirmed / (confirmed + noise) if confirmed + noise else None
    return {
        "signals": signals,
        "overall": {"confirmed": confirmed, "noise": noise, "precision": overall},
    }
