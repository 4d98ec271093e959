"""Queries over the action audit log: history, cooldowns, budgets and retention."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from policy_engine.models import ActionRecord

# Outcomes that count as "the engine touched the target" for budgets: a `pending` record is an
# action under way (or one a crash cut short, until start-up settles it), `interrupted` one that
# a crash cut short without a visible effect. Both may have touched the target.
ATTEMPT_OUTCOMES = ("succeeded", "failed", "pending", "interrupted")
# Outcomes that start a cooldown (a failed action did nothing; repeated failures are the breaker's).
ACTED_OUTCOMES = ("succeeded", "dry_run", "pending", "interrupted")
_ATTEMPTED = "('succeeded', 'failed', 'pending', 'interrupted')"
_ACTED = "('succeeded', 'dry_run', 'pending', 'interrupted')"


class ActionLog:
    """Read and prune the `actions` table; mixed into `Store`, which owns the connection."""

    _lock: threading.Lock
    _db: sqlite3.Connection

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
