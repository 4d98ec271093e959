"""The active policy set: read the file, validate, hot-reload, keep the last good set, and the
one effective-settings object (environment + the file's `settings:`) every other part reads."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from policy_engine.config import Settings
from policy_engine.metrics import EngineMetrics
from policy_engine.policies import (
    MAX_FILE_BYTES,
    BreakerConfig,
    Budget,
    FieldError,
    GlobalSettings,
    PolicySet,
    load_policies,
    version_of,
)
from policy_engine.store import Store

log = logging.getLogger("policy_engine")
LAST_GOOD_KEY = "policies.last_good"


@dataclass(frozen=True)
class Effective:
    """What the engine runs with: each value decided once, file over environment."""

    dry_run: bool
    grace_period_s: float
    verification_window_s: float
    alert_url: str | None
    breaker: BreakerConfig
    per_service_budget: Budget | None
    global_budget: Budget | None
    manual_cooldown_s: float
    target_cooldown: bool
    allow_scale_to_zero: bool

    @classmethod
    def build(cls, env: Settings, file: GlobalSettings) -> Effective:
        return cls(
            dry_run=env.dry_run or file.dry_run,
            grace_period_s=env.grace_period_s
            if file.grace_period_s is None
            else file.grace_period_s,
            verification_window_s=file.verification_window_s or env.verification_window_s,
            alert_url=file.alert_url or env.alert_webhook_url,
            breaker=file.breaker,
            per_service_budget=file.per_service_budget,
            global_budget=file.global_budget,
            manual_cooldown_s=file.manual_cooldown_s,
            target_cooldown=file.target_cooldown,
            allow_scale_to_zero=file.allow_scale_to_zero,
        )


@dataclass
class PolicyStatus:
    """The active set plus what the file on disk looks like right now."""

    active: PolicySet | None = None
    errors: list[FieldError] = field(default_factory=list)
    loaded_at: float | None = None
    file_hash: str | None = None
    file_version: str | None = None
    from_store: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors


class PolicyLoader:
    """Owns PolicyStatus and the effective settings; the engine calls start/reload/apply."""

    def __init__(
        self, settings: Settings, store: Store, metrics: EngineMetrics, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.status = PolicyStatus()
        self.effective = Effective.build(settings, GlobalSettings())

    @property
    def file(self) -> str:
        return str(self.settings.policies_file)

    def _activate(self, active: PolicySet) -> None:
        self.status.active = active
        self.effective = Effective.build(self.settings, active.settings)
        self.status.loaded_at = self.clock()

    def start(self) -> None:
        """First load: the file if valid, else the last good set persisted by a previous run."""
        self.reload()
        if self.status.active is None:
            saved = self.store.get(LAST_GOOD_KEY)
            if saved is not None:
                active, _errors = load_policies(saved.encode(), self.file)
                if active is not None:
                    self._activate(active)
                    self.status.from_store = True
                    log.warning("policies file invalid; running last good set %s", active.version)
        self._publish()

    def reload(self, force: bool = False) -> PolicyStatus:
        """Re-read the file; a valid change takes effect, an invalid one only reports errors."""
        path = Path(self.file)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
            data = path.read_bytes()
        except (OSError, ValueError) as exc:
            digest = "unreadable:" + str(exc)
            if digest != self.status.file_hash or force:
                self.status.file_hash = digest
                self.status.file_version = None
                self.status.errors = [FieldError(self.file, None, "file", f"cannot read: {exc}")]
                self.metrics.reloads.labels("invalid").inc()
                log.error("policies file unreadable: %s", exc)
            self._publish()
            return self.status
        return self.apply(data, force)

    def apply(self, data: bytes, force: bool = False) -> PolicyStatus:
        """Validate file content; valid -> active (and persisted as last good), else errors only."""
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.status.file_hash and not force:
            return self.status
        self.status.file_hash = digest
        self.status.file_version = version_of(data)
        active, errors = load_policies(data, self.file)
        if active is None:
            self.status.errors = errors
            self.metrics.reloads.labels("invalid").inc()
            log.error("policies file invalid, keeping the last good set: %s", errors[0])
        else:
            old = self.status.active
            changed = old is None or old.version != active.version
            self._activate(active)
            self.status.errors = []
            self.status.from_store = False
            self.store.put(LAST_GOOD_KEY, data.decode("utf-8", errors="replace"))
            self.metrics.reloads.labels("valid").inc()
            if changed:
                log.info("policies %s loaded: %d policies", active.version, len(active.policies))
        self._publish()
        return self.status

    def _publish(self) -> None:
        self.metrics.policies_valid.set(1 if self.status.valid else 0)
        active = self.status.active
        self.metrics.policies_count.set(len(active.policies) if active else 0)
        self.metrics.dry_run.set(1 if self.effective.dry_run else 0)
