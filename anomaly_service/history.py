"""History that survives restarts, and operator feedback, around the pure lifecycle.

- Anomalies: every cycle's changed ones (its transitions and the open ones) are written in one
  SQLite transaction off the event loop; on start, resolved ones come back as history and open
  ones are re-attached to their series, kept open and judged again by the detector (lifecycle
  Tracker.adopt / _rejudged): same id, no second anomaly, no second `open` event.
- Feedback and sensitivity: kept in memory (what the cycle reads), written through at once.
Without a store (STATE_DIR unset) everything works in memory only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from anomaly_service.catalog import MetricSpec
from anomaly_service.feedback import (
    Limits,
    Sensitivity,
    apply_label,
    new_record,
    precision,
    reset,
    series_id,
)
from anomaly_service.lifecycle import Tracker
from anomaly_service.records import (
    EVIDENCE_FIELDS,
    Anomaly,
    SeriesKey,
    Transition,
    series_key,
)
from anomaly_service.store import AnomalyRow, HistoryStore
from relia_contracts.anomalies import FeedbackLabel, FeedbackRecord

log = logging.getLogger("anomaly_service.history")
_TRANSIENT = {"frozen_evidence", "restored", "calm"}
_FIELDS = [f.name for f in fields(Anomaly) if f.name not in _TRANSIENT]
PRUNE_EVERY_S = 3600.0


def anomaly_row(a: Anomaly) -> AnomalyRow:
    body = {name: getattr(a, name) for name in _FIELDS}
    evidence = None if a.frozen_evidence is None else a.frozen_evidence.astype("<f8").tobytes()
    return (a.id, a.status, a.opened_at, a.resolved_at, json.dumps(body), evidence)


def anomaly_from_row(body: str, evidence: bytes | None) -> Anomaly:
    data = json.loads(body)
    anomaly = Anomaly(**{k: v for k, v in data.items() if k in _FIELDS})
    if evidence:
        table = np.frombuffer(evidence, dtype="<f8").astype(float)
        anomaly.frozen_evidence = table.reshape(len(EVIDENCE_FIELDS), -1)
    return anomaly


class History:
    def __init__(
        self,
        store: HistoryStore | None,
        limits: Limits | None = None,
        retention_s: float = 30 * 86400.0,
        keep_resolved: int = 1000,
        keep_feedback: int = 10_000,
    ) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.retention_s = retention_s
        self.keep_resolved = keep_resolved
        self.keep_feedback = keep_feedback
        self.records: list[FeedbackRecord] = []
        self.by_key: dict[SeriesKey, Sensitivity] = {}  # only series an operator touched
        self.carry: list[Transition] = []  # closed at restore, announced by the first cycle
        self.written = 0
        self.last_write_s: float | None = None
        self._last_prune = -math.inf

    # ---- start ---------------------------------------------------------------------------
    def restore(self, tracker: Tracker, catalog: Iterable[MetricSpec], now: float) -> int:
        """Load the stored history into the tracker; returns how many anomalies came back."""
        if self.store is None:
            return 0
        specs = {spec.name: spec for spec in catalog}
        rows = self.store.anomalies()
        for body, evidence in rows:
            anomaly = anomaly_from_row(body, evidence)
            spec = specs.get(anomaly.metric)
            if anomaly.status == "resolved":
                tracker.keep_resolved(anomaly)
            elif spec is None:
                self.carry.append(tracker.interrupt(anomaly, now))
            else:
                tracker.adopt(tracker.state(spec, anomaly.labels), anomaly)
        for data in self.store.sensitivities():
            sens = Sensitivity(**data)
            self.by_key[series_key(sens.metric, sens.labels)] = sens
        self.records = [FeedbackRecord(**r) for r in self.store.feedback()]
        log.info(
            "history restored: %d anomalies (%d open), %d feedback records, %d sensitivities",
            len(rows),
            len(tracker.active),
            len(self.records),
            len(self.by_key),
        )
        return len(rows)

    # ---- every cycle ---------------------------------------------------------------------
    async def after_cycle(self, tracker: Tracker, transitions: list[Transition]) -> None:
        """Write what the cycle changed (one transaction, off the event loop); prune hourly."""
        if self.store is None:
            return
        changed = {t.anomaly["id"] for t in transitions}
        chosen = [a for i in changed if (a := tracker.get(i)) is not None]
        chosen += [a for a in tracker.active.values() if a.id not in changed]
        rows = [anomaly_row(a) for a in chosen]  # serialised here: the next cycle mutates them
        now = max((a.updated_at for a in chosen), default=0.0)
        started = asyncio.get_running_loop().time()
        try:
            self.written += await asyncio.to_thread(self.store.write_anomalies, rows)
            if now - self._last_prune >= PRUNE_EVERY_S:
                self._last_prune = now
                gone = await asyncio.to_thread(
                    self.store.prune,
                    now - self.retention_s,
                    self.keep_resolved,
                    self.keep_feedback,
                )
                if gone:
                    log.info("history retention: %d old rows pruned", gone)
        except Exception:  # a full disk must not stop detection; the next cycle writes again
            log.exception("writing the anomaly history failed")
        self.last_write_s = asyncio.get_running_loop().time() - started

    def factor(self, key: SeriesKey) -> float:
        sens = self.by_key.get(key)
        return 1.0 if sens is None else sens.factor

    def muted(self, key: SeriesKey, now: float) -> bool:
        sens = self.by_key.get(key)
        return sens is not None and sens.muted(now)

    # ---- operators -----------------------------------------------------------------------
    async def label(
        self,
        anomaly: Anomaly,
        label: FeedbackLabel,
        reason: str,
        mute_for_s: float | None,
        now: float,
    ) -> tuple[FeedbackRecord, Sensitivity]:
        key = series_key(anomaly.metric, anomaly.labels)
        sid = series_id(anomaly.metric, anomaly.labels)
        current = self.by_key.get(key) or Sensitivity(
            sid, anomaly.service, anomaly.metric, dict(anomaly.labels)
        )
        after = apply_label(current, label, mute_for_s, now, self.limits)
        record = new_record(anomaly.to_dict(), sid, label, reason, mute_for_s, after, now)
        if self.store is not None:  # stored before it takes effect: a 201 means it is kept
            await asyncio.to_thread(self.store.add_feedback, record.model_dump(), asdict(after))
        self.records.append(record)
        del self.records[: max(0, len(self.records) - self.keep_feedback)]
        self.by_key[key] = after
        return record, after

    async def reset(self, sid: str, now: float) -> Sensitivity | None:
        key = next((k for k, s in self.by_key.items() if s.series_id == sid), None)
        if key is None:
            return None
        after = reset(self.by_key[key], now)
        if self.store is not None:
            await asyncio.to_thread(self.store.put_sensitivity, asdict(after))
        self.by_key[key] = after
        return after

    def for_anomaly(self, anomaly_id: str) -> list[dict[str, Any]]:
        return [r.model_dump() for r in self.records if r.anomaly_id == anomaly_id]

    def precision(self) -> dict[str, Any]:
        return precision(self.records)

    def sensitivity_of(self, metric: str, labels: dict[str, str]) -> Sensitivity | None:
        return self.by_key.get(series_key(metric, labels))
