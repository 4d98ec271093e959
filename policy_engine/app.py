"""create_app: wires settings, store, actuator, snapshot client and notifier into the API + loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from policy_engine.actuator.types import Actuator
from policy_engine.alertmanager import AlertmanagerClient
from policy_engine.api import (
    actions,
    alerts,
    breakers,
    changes,
    operators,
    plan,
    policies,
    status,
    toggle,
)
from policy_engine.config import Settings
from policy_engine.engine import Engine
from policy_engine.metrics import EngineMetrics
from policy_engine.notifier import WebhookNotifier
from policy_engine.reload_thread import reload_off_loop
from policy_engine.snapshot import SnapshotClient
from policy_engine.store import Store
from policy_engine.vocabulary import Vocabulary
from relia_web.guard import RequestGuard
from relia_web.openapi import AllowHeader, document

OPENAPI_EXTRA: dict[str, dict[int, str | dict[str, Any]]] = {
    "GET /ready": {503: "Not ready: no valid policies loaded, or the state store is down"},
    "POST /breakers/{target}/reset": {409: "The breaker is closed with no failures already"},
    "POST /policies/reload": {
        422: {
            "description": "The file is invalid: the last good set keeps running (see errors)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/PoliciesView"}}
            },
        }
    },
}

log = logging.getLogger("policy_engine")


async def _loop(engine: Engine, vocabulary: Vocabulary) -> None:
    """The control loop; one failing cycle is logged and the next one runs on time."""
    interval = engine.settings.check_interval
    last_prune: float | None = None
    last_vocabulary: float | None = None
    while True:
        now = engine.clock()
        if last_vocabulary is None or now - last_vocabulary >= engine.settings.vocabulary_refresh_s:
            last_vocabulary = now
            await refresh_vocabulary(engine, vocabulary)
        try:
            await engine.cycle()
        except Exception:
            log.exception("control-loop cycle failed")
        if (
            last_prune is None
            or engine.clock() - last_prune >= engine.settings.actions_prune_interval_s
        ):
            last_prune = engine.clock()
            try:
                await asyncio.to_thread(prune_actions, engine)
            except Exception:
                log.exception("pruning the audit log failed")
        await asyncio.sleep(interval)


async def refresh_vocabulary(engine: Engine, vocabulary: Vocabulary) -> bool:
    """Catalog names changed: validate the policies file again against them (off the loop)."""
    try:
        changed = await vocabulary.refresh(engine.clock())
    except Exception:
        log.exception("reading the catalog vocabulary failed")
        return False
    if changed:
        await reload_off_loop(engine, force=True)
    return changed


def prune_actions(engine: Engine) -> int:
    """Audit retention by age and count (settings actions_retention_days / _max_records)."""
    settings = engine.settings
    older_than = engine.clock() - settings.actions_retention_days * 86400
    dropped = engine.store.prune_actions(older_than, settings.actions_max_records)
    if dropped:
        log.info("audit retention: %d old action records pruned", dropped)
    return dropped


def create_app(
    settings: Settings,
    actuator: Actuator,
    *,
    store: Store | None = None,
    snapshots: SnapshotClient | None = None,
    notifier: WebhookNotifier | None = None,
    clock: Callable[[], float] | None = None,
    run_loop: bool = True,
    vocabulary: Vocabulary | None = None,
    alertmanager: AlertmanagerClient | None = None,
) -> FastAPI:
    store = store or Store(settings.state_dir / "policy-engine.sqlite3")
    # condition names: the catalog's last good copy (or the shipped catalog's names) before
    # the first load
    vocabulary = vocabulary or Vocabulary(store, settings.anomaly_service_url)
    vocabulary.restore()
    snapshots = snapshots or SnapshotClient(settings.anomaly_service_url)
    notifier = notifier or WebhookNotifier()
    if alertmanager is None and settings.alertmanager_url:
        alertmanager = AlertmanagerClient(
            settings.alertmanager_url,
            timeout_s=settings.alertmanager_timeout_s,
            attempts=settings.alertmanager_attempts,
            backoff_s=settings.alertmanager_backoff_s,
        )
    metrics = EngineMetrics()
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    engine = Engine(
        settings, store, actuator, snapshots, notifier, metrics, alertmanager=alertmanager, **kwargs
    )
    engine.start()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await engine.recover()  # settle what a killed run left pending, before serving
        task = asyncio.create_task(_loop(engine, vocabulary)) if run_loop else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await engine.drain()
            await snapshots.aclose()
            await vocabulary.aclose()
            await notifier.aclose()
            if alertmanager is not None:
                await alertmanager.aclose()
            store.close()
            log.info("policy engine stopped cleanly")

    app = FastAPI(title="Relia policy engine", version="0.1.0", lifespan=lifespan)
    app.state.engine = engine
    app.state.vocabulary = vocabulary
    for module in (status, policies, actions, alerts, toggle, breakers, plan, changes, operators):
        app.include_router(module.router)
    # every POST: JSON only, no foreign Origin, bounded size and nesting (relia_web/guard.py)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AllowHeader, openapi=lambda: app.openapi())
    document(app, token=True, extra=OPENAPI_EXTRA)
    return app
