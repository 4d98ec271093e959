"""Start-up: settle the `pending` records a previous process left (killed mid-action, or stopped
before an action finished) from the real world, so no action is lost from the audit and none is
repeated. Until settled they count for cooldowns and budgets like any attempt; once settled,
`succeeded` and `interrupted` both keep counting.

Rules (the record is written before any side effect, at `created_at`):
- restart: a target whose StartedAt is later than `created_at` was restarted -> `succeeded`
  (verification pending, from now); no such target -> `interrupted`;
- scale: the replica count moved from `replicas_before` in the action's direction ->
  `succeeded`; otherwise (or unknown) -> `interrupted`;
- alert: delivery unknown -> `interrupted`; a dry run -> `dry_run` (it changed nothing);
- Docker unreachable: the record stays `pending` and is tried again every cycle.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from policy_engine.models import ActionRecord

if TYPE_CHECKING:
    from policy_engine.engine import Engine

log = logging.getLogger("policy_engine")


class Recovery:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # ids of the records left pending by an earlier process; None: not looked up yet
        self.orphans: set[str] | None = None

    def collect(self) -> None:
        """The pending records that no task of this process owns (call before acting)."""
        self.orphans = {r.id for r in self.engine.store.pending_actions()}
        if self.orphans:
            log.warning("%d action(s) left pending by the previous run", len(self.orphans))

    @property
    def done(self) -> bool:
        return self.orphans is not None and not self.orphans

    async def settle(self) -> None:
        if self.orphans is None:
            self.collect()
        assert self.orphans is not None
        for record in self.engine.store.pending_actions():
            if record.id not in self.orphans:
                continue
            if await self._settle_one(record) is None:
                break  # Docker is not answering: the next cycle tries again
            self.orphans.discard(record.id)

    async def _settle_one(self, record: ActionRecord) -> ActionRecord | None:
        engine = self.engine
        now = engine.clock()
        settle = engine.pipeline.settle
        if record.dry_run:
            return settle(record, outcome="dry_run", detail="dry run (settled at start-up)")
        if record.action not in ("restart_container", "scale_up", "scale_down"):
            return settle(
                record,
                outcome="interrupted",
                detail="the engine stopped while sending the alert: delivery unknown",
            )
        try:
            targets = await engine.executor.targets(record.service)
        except Exception as exc:
            log.warning("cannot settle %s yet: %s", record.id, exc)
            return None
        if record.action == "restart_container":
            named = set(record.target.split(",")) if record.target else None
            moved = [
                t.name
                for t in targets
                if (named is None or t.name in named)
                and t.started_at is not None
                and t.started_at > record.created_at
            ]
            happened = bool(moved)
            what = f"restarted {', '.join(moved)}" if moved else "no target restarted"
        else:
            before = record.params.get("replicas_before")
            count = len(targets)
            up = record.action == "scale_up"
            happened = before is not None and (count > before if up else count < before)
            what = f"{before} -> {count} replicas"
        why = f"settled at start-up from Docker ({what} since the record)"
        if not happened:
            if not record.manual:
                engine.breakers.give_back_trial(record.service)
            return settle(record, outcome="interrupted", detail=why)
        return settle(
            record, outcome="succeeded", detail=why, **engine.verifier.pending(record, now)
        )
