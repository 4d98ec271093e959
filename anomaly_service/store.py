"""SQLite history of the anomaly service in STATE_DIR: anomalies (with evidence), operator
feedback and per-series sensitivity. WAL; one transaction per detection cycle; every call is
meant to run off the event loop (asyncio.to_thread), guarded by one lock."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS anomalies (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, opened_at REAL NOT NULL, resolved_at REAL,
    body TEXT NOT NULL, evidence BLOB
);
CREATE INDEX IF NOT EXISTS anomalies_resolved ON anomalies (status, resolved_at);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY, at REAL NOT NULL, anomaly_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_at ON feedback (at);
CREATE TABLE IF NOT EXISTS sensitivity (series_id TEXT PRIMARY KEY, body TEXT NOT NULL);
"""
AnomalyRow = tuple[str, str, float, float | None, str, bytes | None]


class HistoryStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def write_anomalies(self, rows: Iterable[AnomalyRow]) -> int:
        """Insert or replace a cycle's changed anomalies in one transaction."""
        batch = list(rows)
        if not batch:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO anomalies (id, status, opened_at, resolved_at, body, "
                    "evidence) VALUES (?, ?, ?, ?, ?, ?)",
                    batch,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(batch)

    def anomalies(self) -> list[tuple[str, bytes | None]]:
        """(body, evidence) of every stored anomaly, resolved ones oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body, evidence FROM anomalies ORDER BY COALESCE(resolved_at, opened_at)"
            ).fetchall()
        return [(str(r[0]), r[1]) for r in rows]

    def add_feedback(self, record: dict[str, Any], sensitivity: dict[str, Any]) -> None:
        """A label and the sensitivity it produced, together (both or neither)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO feedback (id, at, anomaly_id, body) VALUES (?, ?, ?, ?)",
                    (record["id"], record["at"], record["anomaly_id"], json.dumps(record)),
                )
                self._put_sensitivity(sensitivity)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def put_sensitivity(self, sensitivity: dict[str, Any]) -> None:
        with self._lock:
            self._put_sensitivity(sensitivity)

    def _put_sensitivity(self, sensitivity: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sensitivity (series_id, body) VALUES (?, ?)",
            (sensitivity["series_id"], json.dumps(sensitivity)),
        )

    def feedback(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM feedback ORDER BY at, id").fetchall()
        return [json.loads(r[0]) for r in rows]

    def sensitivities(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM sensitivity").fetchall()
        return [json.loads(r[0]) for r in rows]

    def prune(self, older_than: float, keep_resolved: int, keep_feedback: int) -> int:
        """Retention: resolved anomalies resolved before `older_than`, then all but the newest
        `keep_resolved`; feedback likewise by age and `keep_feedback`. Open anomalies stay."""
        with self._lock:
            gone = self._db.execute(
                "DELETE FROM anomalies WHERE status = 'resolved' AND resolved_at < ?",
                (older_than,),
            ).rowcount
            gone += self._db.execute(
                "DELETE FROM anomalies WHERE status = 'resolved' AND id NOT IN (SELECT id FROM "
                "anomalies WHERE status = 'resolved' ORDER BY resolved_at DESC, id DESC LIMIT ?)",
                (keep_resolved,),
            ).rowcount
            gone += self._db.execute("DELETE FROM feedback WHERE at < ?", (older_than,)).rowcount
            gone += self._db.execute(
                "DELETE FROM feedback WHERE id NOT IN "
                "(SELECT id FROM feedback ORDER BY at DESC, id DESC LIMIT ?)",
                (keep_feedback,),
            ).rowcount
        return int(gone)

    def count(self, table: str) -> int:
        if table not in ("anomalies", "feedback", "sensitivity"):
            raise ValueError(f"unknown table {table!r}")
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
