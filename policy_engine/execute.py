"""Execution of an admitted action whose `pending` record is committed: Docker (read the targets
once, pure target guards, actuate with a timeout) or an alert webhook; then settle the record.
Every Docker call has a timeout, and runs in the action's own task, off the control loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from policy_engine.actuator.types import ActionOutcome, ContainerInfo, RestartParams, ScaleParams
from policy_engine.am_payload import alert_of_record
from policy_engine.guards import grace_check, replica_bound, select_targets
from policy_engine.models import ActionRecord
from policy_engine.params import AlertArgs, RestartArgs, ScaleArgs, args_of

if TYPE_CHECKING:
    from policy_engine.engine import Engine


async def _within(coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
    return await asyncio.wait_for(coro, timeout=timeout_s)


def _error(exc: BaseException, timeout_s: float | None = None) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out" if timeout_s is None else f"timed out after {timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}"


class Executor:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def ping(self) -> bool:
        try:
            limit = min(5.0, self.engine.settings.docker_timeout_s)
            return bool(await _within(self.engine.actuator.ping(), limit))
        except Exception:
            return False

    async def targets(self, service: str) -> list[ContainerInfo]:
        """The target state, read once per action (raises on a Docker error or timeout)."""
        found: list[ContainerInfo] = await _within(
            self.engine.actuator.list_targets(service), self.engine.settings.docker_timeout_s
        )
        return found

    async def log_unless_at_bound(self, skip: ActionRecord) -> None:
        """A sustained scale condition whose service already sits at its replica bound (quiet at
        min replicas, still cooling down after the last scale-down) is no remediation: a guard's
        skip of it is not audited. Anything else is."""
        try:
            count = len(await self.targets(skip.service))
        except Exception:
            count = 0  # cannot tell: audit the skip
        args = args_of(skip.action, skip.params)
        assert isinstance(args, ScaleArgs)
        if count and replica_bound(skip.action, count, args.min_replicas, args.max_replicas):
            return
        self.engine.pipeline.store.save_action(skip)
        self.engine.pipeline.count(skip)

    async def docker(self, record: ActionRecord) -> ActionRecord:
        engine, pipeline = self.engine, self.engine.pipeline
        service, p = record.service, record.params
        args = args_of(record.action, p)
        try:
            found = await self.targets(service)
        except Exception as exc:
            return self.fail(record, f"cannot list targets: {_error(exc)}", "docker_unavailable")
        if not found and not await self.ping():
            why = getattr(engine.actuator, "last_error", None)
            error = f"Docker is not reachable: {why}" if why else "Docker is not reachable"
            return self.fail(record, error, "docker_unavailable")
        container = args.container if not isinstance(args, AlertArgs) else None
        only = isinstance(args, RestartArgs) and args.only_not_running
        chosen, refusal = select_targets(record.action, service, found, container, only)
        if refusal is not None:
            return pipeline.settle(
                record, outcome="skipped", reason=refusal.reason, detail=refusal.detail
            )
        count = len(chosen)
        now = engine.clock()
        if isinstance(args, ScaleArgs) and (at_bound := self._at_bound(record, args, count, now)):
            return at_bound
        grace = grace_check(chosen, engine.effective.grace_period_s, now)
        if grace is not None:
            return pipeline.settle(record, outcome="skipped", reason="grace", detail=grace.detail)
        names = [t.name for t in chosen]
        target_text = ",".join(names) if record.action == "restart_container" else service
        if record.dry_run:
            return self._dry_run(record, count, target_text)
        if not record.manual:  # operators' actions neither use up nor settle a half-open trial
            engine.breakers.on_attempt(service, now)
        # what start-up needs to settle this record if the engine dies from here on
        params = {**p, "replicas_before": count} if record.action != "restart_container" else p
        record = record.model_copy(update={"target": target_text, "params": params})
        engine.store.save_action(record)
        timeout = engine.settings.action_timeout_s
        try:
            chosen_names = names if only or container is not None else None
            outcome: ActionOutcome = await _within(self._actuate(record, chosen_names), timeout)
        except Exception as exc:
            return self.fail(record, _error(exc, timeout), None, target=target_text)
        return self._settle_outcome(record, outcome, target_text)

    def _at_bound(
        self, record: ActionRecord, args: ScaleArgs, count: int, now: float
    ) -> ActionRecord | None:
        """The settled record when a scale action finds the service at its replica bound."""
        bound = replica_bound(record.action, count, args.min_replicas, args.max_replicas)
        if bound is None:
            return None
        if record.trigger.source == "snapshot":
            # a sustained "cpu is low" at min replicas is not a remediation: no audit noise
            self.engine.store.delete_action(record.id)
            return record.model_copy(update={"reason": bound.reason, "finished_at": now})
        return self.engine.pipeline.settle(
            record,
            outcome="skipped",
            reason=bound.reason,
            target=record.service,
            detail=bound.detail,
        )

    def _dry_run(self, record: ActionRecord, count: int, target_text: str) -> ActionRecord:
        service = record.service
        verb = {
            "restart_container": f"restart {target_text}",
            "scale_up": f"scale {service} up from {count}",
            "scale_down": f"scale {service} down from {count}",
        }[record.action]
        return self.engine.pipeline.settle(
            record, outcome="dry_run", target=target_text, detail=f"dry run: would {verb}"
        )

    def _settle_outcome(
        self, record: ActionRecord, outcome: ActionOutcome, target_text: str
    ) -> ActionRecord:
        engine = self.engine
        engine.metrics.action_seconds.labels(record.action).observe(outcome.duration_ms / 1000)
        extra: dict[str, Any] = {
            "target": ",".join(outcome.targets) or target_text,
            "detail": outcome.detail,
            "duration_ms": outcome.duration_ms,
        }
        if outcome.replicas_before is not None:
            extra["params"] = {
                **record.params,
                "replicas_before": outcome.replicas_before,
                "replicas_after": outcome.replicas_after,
            }
        if outcome.status == "noop":
            if not record.manual:  # nothing was done, so nothing will be verified
                engine.breakers.give_back_trial(record.service)
            return engine.pipeline.settle(record, outcome="skipped", reason="noop", **extra)
        if outcome.status == "failed":
            return self.fail(record, outcome.error or outcome.detail, None, **extra)
        return engine.pipeline.settle(
            record, outcome="succeeded", **engine.verifier.pending(record), **extra
        )

    async def _actuate(self, record: ActionRecord, names: list[str] | None) -> ActionOutcome:
        args, actuator = args_of(record.action, record.params), self.engine.actuator
        if isinstance(args, RestartArgs):
            stop = args.stop_timeout_s
            if names is None:
                return await actuator.restart(
                    RestartParams(service=record.service, stop_timeout_s=stop)
                )
            # chosen replicas (one named, or the ones not running): one at a time
            outcomes = [
                await actuator.restart(
                    RestartParams(service=record.service, stop_timeout_s=stop, container=name)
                )
                for name in names
            ]
            failed = [o for o in outcomes if o.status == "failed"]
            return ActionOutcome(
                status="failed" if failed else "succeeded",
                targets=[t for o in outcomes for t in o.targets],
                detail="; ".join(o.detail for o in outcomes),
                error="; ".join(o.error or o.detail for o in failed) or None,
                duration_ms=sum(o.duration_ms for o in outcomes),
            )
        assert isinstance(args, ScaleArgs)
        return await actuator.scale(
            ScaleParams(
                service=record.service,
                direction="up" if record.action == "scale_up" else "down",
                step=args.step,
                min_replicas=args.min_replicas,
                max_replicas=args.max_replicas,
            )
        )

    def fail(
        self, record: ActionRecord, error: str, reason: str | None, **extra: Any
    ) -> ActionRecord:
        engine = self.engine
        saved = engine.pipeline.settle(
            record,
            outcome="failed",
            error=error,
            reason=reason,
            verification="failed",
            verified_at=engine.clock(),
            **extra,
        )
        if not record.manual:
            engine.breakers.feed(record.service, False, engine.clock())
        return saved

    async def alert(self, record: ActionRecord) -> ActionRecord:
        """A plain webhook when one is named (params.url, settings.alert_url, ALERT_WEBHOOK_URL),
        else Alertmanager's API v2 (ALERTMANAGER_URL); delivery is recorded on the record."""
        engine, settle = self.engine, self.engine.pipeline.settle
        url = record.params.get("url") or engine.effective.alert_url
        am = engine.am.client
        target = url or (am.base_url if am is not None else None)
        if record.dry_run:
            return settle(
                record,
                outcome="dry_run",
                target=target,
                detail=f"would POST an alert to {target or '(no receiver configured)'}",
            )
        if not url and am is not None:
            return await self._to_alertmanager(record)
        if not url:
            # nothing was attempted: a missing receiver is configuration, not a delivery failure
            return settle(
                record,
                outcome="skipped",
                reason="no_webhook",
                detail="alert not sent: no receiver configured (ALERTMANAGER_URL, params.url, "
                "settings.alert_url or ALERT_WEBHOOK_URL)",
                verification="not_applicable",
            )
        payload = {
            "source": "relia-policy-engine",
            "action_id": record.id,
            "policy": record.policy,
            "service": record.service,
            "message": record.params.get("message")
            or f"{record.policy}: {record.trigger.metric or 'condition'} on {record.service}",
            "trigger": record.trigger.model_dump(),
            "policy_version": record.policy_version,
            "created_at": record.created_at,
        }
        try:
            outcome = await _within(
                engine.notifier.send(url, payload), engine.settings.action_timeout_s
            )
        except TimeoutError:
            return settle(
                record, outcome="failed", target=url, error="webhook timed out", delivery="failed"
            )
        engine.metrics.action_seconds.labels("alert").observe(outcome.duration_ms / 1000)
        sent = outcome.status == "succeeded"
        return settle(
            record,
            outcome="succeeded" if sent else "failed",
            target=url,
            detail=outcome.detail,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            verification="not_applicable",
            delivery="sent" if sent else "failed",
        )

    async def _to_alertmanager(self, record: ActionRecord) -> ActionRecord:
        engine = self.engine
        am = engine.am
        assert am.client is not None
        payload = alert_of_record(
            record, am.links, engine.clock(), engine.settings.alertmanager_alert_ttl_s
        )
        delivery = await am.post([payload])
        engine.metrics.action_seconds.labels("alert").observe(delivery.duration_ms / 1000)
        return engine.pipeline.settle(
            record,
            outcome="succeeded" if delivery.sent else "failed",
            target=am.client.base_url,
            detail=delivery.detail,
            error=delivery.error,
            duration_ms=delivery.duration_ms,
            verification="not_applicable",
            delivery="sent" if delivery.sent else "failed",
            reason=None if delivery.sent else "alertmanager_unavailable",
        )
