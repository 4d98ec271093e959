"""SQLite store in STATE_DIR: audit log, toggle, breakers, delivery dedupe, last good policies."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from policy_engine.guards import BreakerState
from policy_engine.models import ActionRecord

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
# Outcomes that count as "the engine touched the target" for budgets: a `pending` record is an
# action under way (or one a crash cut short, until start-up settles it), `interrupted` one that
# a crash cut short without a visible effect. Both may have touched the target.
ATTEMPT_OUTCOMES = ("succeeded", "failed", "pending", "interrupted")
# Outcomes that start a cooldown (a failed action did nothing; repeated failures are the breaker's).
ACTED_OUTCOMES = ("succeeded", "dry_run", "pending", "interrupted")
_ATTEMPTED = "('succeeded', 'failed', 'pending', 'interrupted')"
_ACTED = "('succeeded', 'dry_run', 'pending', 'interrupted')"


class Store:
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

    def pending_actions(self) -> list[ActionRecord]:
        """Records written before their side effect whose outcome is not settled yet."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM actions WHERE outcome = 'pending' ORDER BY created_at"
            ).fetchall()
        return [ActionRecord.model_validate_json(r["body"]) for r in rows]

    def last_on_target(self, service: str, action: str) -> tuple[str, float] | None:
        """(policy, time) of the latest action of this kind on `service` that starts a cooldown,
        whichever policy (or operator) took it: the target cooldown across policies."""
        found = self.last_of(service, (action,))
        return None if found is None else (found[1], found[2])

    def last_of(self, service: str, actions: Iterable[str]) -> tuple[str, str, float] | None:
        """(action, policy, time) of the latest of these actions on `service` that took effect
        or may have (pending, interrupted), whichever policy or operator took it."""
        kinds = list(actions)
        marks = ", ".join("?" for _ in kinds)
        with self._lock:
            row = self._db.execute(
                "SELECT action, policy, created_at FROM actions WHERE service = ? "
                f"AND action IN ({marks}) AND outcome IN {_ACTED} "
                "ORDER BY created_at DESC LIMIT 1",
                (service, *kinds),
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

    def get_action(self, action_id: str) -> ActionRecord | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM actions WHERE id = ?", (action_id,)).fetchone()
        return None if row is None else ActionRecord.model_validate_json(row["body"])

    def list_actions(
        self,
        *,
        policy: str | None = None,
        service: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ActionRecord], int]:
        where: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("policy", policy),
            ("service", service),
            ("action", action),
            ("outcome", outcome),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM actions {clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT body FROM actions {clause} ORDER BY created_at DESC, id DESC "
                "LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [ActionRecord.model_validate_json(r["body"]) for r in rows], int(total)

    def last_acted_at(self, policy: str, service: str, action: str | None = None) -> float | None:
        """When (policy, service) last acted (ACTED_OUTCOMES): the start of its cooldown."""
        sql = (
            "SELECT MAX(created_at) FROM actions WHERE policy = ? AND service = ? "
            f"AND outcome IN {_ACTED}"
        )
        args: list[Any] = [policy, service]
        if action is not None:
            sql += " AND action = ?"
            args.append(action)
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row[0] is None else float(row[0])

    def has_action_for(self, policy: str, anomaly_id: str) -> bool:
        """Did `policy` already act on this anomaly (for real or dry)? Skips do not count."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM actions WHERE policy = ? AND anomaly_id = ? "
                f"AND outcome IN ('dry_run', {_ATTEMPTED[1:]} LIMIT 1",
                (policy, anomaly_id),
            ).fetchone()
        return row is not None

    def last_action(
        self, policy: str, service: str, exclude_id: str | None = None
    ) -> ActionRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM actions WHERE policy = ? AND service = ? AND id != ? "
                "ORDER BY created_at DESC, id DESC LIMIT 1",
                (policy, service, exclude_id or ""),
            ).fetchone()
        return None if row is None else ActionRecord.model_validate_json(row["body"])

    def attempt_times(
        self,
        since: float,
        *,
        policy: str | None = None,
        service: str | None = None,
        actions: Iterable[str] | None = None,
    ) -> list[float]:
        """Times of real attempts (ATTEMPT_OUTCOMES) since `since`, for budgets."""
        where = ["created_at > ?", f"outcome IN {_ATTEMPTED}"]
        args: list[Any] = [since]
        if policy is not None:
            where.append("policy = ?")
            args.append(policy)
        if service is not None:
            where.append("service = ?")
            args.append(service)
        if actions is not None:
            names = list(actions)
            where.append(f"action IN ({', '.join('?' for _ in names)})")
            args.extend(names)
        with self._lock:
            rows = self._db.execute(
                f"SELECT created_at FROM actions WHERE {' AND '.join(where)}", args
            ).fetchall()
        return [float(r[0]) for r in rows]

    def pending_verifications(self) -> list[ActionRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM actions WHERE verification = 'pending' ORDER BY created_at"
            ).fetchall()
        return [ActionRecord.model_validate_json(r["body"]) for r in rows]

    def count_actions(self, since: float | None = None) -> int:
        with self._lock:
            if since is None:
                return int(self._db.execute("SELECT COUNT(*) FROM actions").fetchone()[0])
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM actions WHERE created_at >= ?", (since,)
                ).fetchone()[0]
            )

    def prune_actions(self, older_than: float, keep: int) -> int:
        """Retention: drop records older than `older_than`, then all but the newest `keep`.

        A record still awaiting verification (or still pending) is never dropped. Returns how
        many records went.
        """
        unfinished = "verification = 'pending' OR outcome = 'pending'"
        with self._lock:
            by_age = self._db.execute(
                f"DELETE FROM actions WHERE created_at < ? AND NOT ({unfinished})", (older_than,)
            ).rowcount
            by_count = self._db.execute(
                f"DELETE FROM actions WHERE NOT ({unfinished}) AND id NOT IN "
                "(SELECT id FROM actions ORDER BY created_at DESC, id DESC LIMIT ?)",
                (keep,),
            ).rowcount
        return int(by_age) + int(by_count)

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
