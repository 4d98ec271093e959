"""SQLite store in STATE_DIR: action writes, toggle, breakers, delivery dedupe, last good set."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from policy_engine.action_log import ACTED_OUTCOMES, ATTEMPT_OUTCOMES, ActionLog
from policy_engine.guards import BreakerState
from policy_engine.models import ActionRecord

__all__ = ["ACTED_OUTCOMES", "ATTEMPT_OUTCOMES", "Store", "dumps"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY, created_at REAL NOT NULL, policy TEXT NOT NULL, action TEXT NOT NULL,
    service TEXT NOT NULL, outcome TEXT NOT NULL, verification TEXT NOT NULL,
    fingerprint TEXT, anomaly_id TEXT, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_created ON actions (created_at);
CREATE INDEX IF NOT EXISTS actions_policy_service ON actions (policy, service, created_at);
CREATE INDEX IF NOT EXISTS actions_verification ON actions (verification);
CREATE INDEX IF NOT EXISTS actions_anomaly ON actions (policy, anomaly_id);
CREATE TABLE IF NOT EXISTS breakers (
    target TEXT PRIMARY KEY, state TEXT NOT NULL, failures INTEGER NOT NULL,
    opened_at REAL, trial_in_flight INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (key TEXT PRIMARY KEY, received_at REAL NOT NULL);
"""
_INSERT = (
    "INSERT OR REPLACE INTO actions (id, created_at, policy, action, service, outcome, "
    "verification, fingerprint, anomaly_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Store(ActionLog):
    """Small synchronous SQLite adapter; every call is a few ms, guarded by one lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    # key/value -----------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # actions -------------------------------------------------------------------------------

    def save_action(self, record: ActionRecord) -> None:
        """Insert or replace one record (verification updates rewrite it)."""
        with self._lock:
            self._db.execute(_INSERT, self._row(record))

    @staticmethod
    def _row(record: ActionRecord) -> tuple[Any, ...]:
        return (
            record.id,
            record.created_at,
            record.policy,
            record.action,
            record.service,
            record.outcome,
            record.verification,
            record.trigger.fingerprint,
            record.trigger.anomaly_id,
            record.model_dump_json(),
        )

    def accept(
        self, records: Iterable[ActionRecord], delivery_key: str | None = None, now: float = 0.0
    ) -> bool:
        """In one transaction: the delivery's dedupe key (when given) and the records it caused
        (pending actions, skips). False, and nothing written, when the key was seen before."""
        rows = [self._row(r) for r in records]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if delivery_key is not None:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO deliveries (key, received_at) VALUES (?, ?)",
                        (delivery_key, now),
                    )
                    if cursor.rowcount != 1:
                        self._db.execute("ROLLBACK")
                        return False
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def delete_action(self, action_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM actions WHERE id = ?", (action_id,))

    # breakers ------------------------------------------------------------------------------

    def breaker(self, target: str) -> BreakerState:
        with self._lock:
            row = self._db.execute("SELECT * FROM breakers WHERE target = ?", (target,)).fetchone()
        if row is None:
            return BreakerState()
        return BreakerState(
            row["state"], int(row["failures"]), row["opened_at"], bool(row["trial_in_flight"])
        )

    def set_breaker(self, target: str, state: BreakerState) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO breakers (target, state, failures, opened_at, "
                "trial_in_flight) VALUES (?, ?, ?, ?, ?)",
                (target, state.state, state.failures, state.opened_at, int(state.trial_in_flight)),
            )

    def breakers(self) -> dict[str, BreakerState]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM breakers").fetchall()
        return {
            r["target"]: BreakerState(
                r["state"], int(r["failures"]), r["opened_at"], bool(r["trial_in_flight"])
            )
            for r in rows
        }

    # delivery dedupe -----------------------------------------------------------------------

    def first_delivery(self, key: str, now: float) -> bool:
        """True the first time `key` is seen (persisted, so redeliveries after a restart dedupe)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (key, received_at) VALUES (?, ?)", (key, now)
            )
        return cursor.rowcount == 1

    def prune_deliveries(self, older_than: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM deliveries WHERE received_at < ?", (older_than,))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
