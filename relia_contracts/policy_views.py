"""What the policy engine says about itself and its policies: `GET /status`, `GET /policies`
(and `POST /policies/reload`, same body) and `GET /plan?service=`.

The dashboard, the chaos CLI, the anomaly service's triage packet and the e2e harness read
these. Unknown keys are ignored on parsing, so a consumer keeps working when the engine adds one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BreakerState = Literal["closed", "open", "half_open"]


class PolicyError(BaseModel):
    """One problem in the policies file: which file, policy (null: the file), field, why."""

    file: str
    policy: str | None
    field: str
    message: str


class PoliciesState(BaseModel):
    """The policy set in force: an invalid edit never takes effect (`running_last_good`)."""

    valid: bool
    version: str | None  # of the set in force (null: none loaded)
    file_version: str | None  # of the file as it is now
    loaded_at: float | None
    count: int
    file: str
    error: PolicyError | None  # the first of `errors`
    errors: list[PolicyError]
    running_last_good: bool
    from_store: bool


class BreakerView(BaseModel):
    state: BreakerState
    failures: int
    opened_at: float | None


class DockerLink(BaseModel):
    reachable: bool | None  # null: not asked yet


class AlertmanagerLink(BaseModel):
    url: str | None
    reachable: bool
    silences_fetched_at: float | None
    silences_fresh: bool
    error: str | None


class AnomalyServiceLink(BaseModel):
    url: str | None
    snapshot_at: float | None
    fresh: bool
    error: str | None


class ActionCounts(BaseModel):
    total: int
    last_hour: int


class VocabularyView(BaseModel):
    """The signal names a condition may use, and where the engine got them."""

    source: Literal["default", "store", "catalog"]
    names: list[str]
    fetched_at: float | None
    error: str | None


class PolicyEngineStatus(BaseModel):
    """`GET /status`."""

    enabled: bool
    dry_run: bool
    ready: bool
    policies: PoliciesState
    docker: DockerLink
    alertmanager: AlertmanagerLink
    anomaly_service: AnomalyServiceLink
    last_evaluation_at: float | None
    check_interval_s: float
    actions: ActionCounts
    breakers: dict[str, BreakerView]  # by target service
    vocabulary: VocabularyView


class Budget(BaseModel):
    max: int
    window_s: float


class BudgetUse(BaseModel):
    used: int
    max: int
    window_s: float


class AlertMatchView(BaseModel):
    """External (Alertmanager) alerts a policy acts on: exact label equality."""

    alertname: str | None
    labels: dict[str, str]


class PolicyView(BaseModel):
    """One policy as `GET /policies` lists it: its definition and its state now."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    condition: str
    action: str
    service: str
    cooldown: float
    enabled: bool
    for_s: float = Field(alias="for")
    dry_run: bool
    params: dict[str, Any]  # the action's typed parameters (docs/policy-engine.md)
    budget: Budget | None
    description: str
    alert: AlertMatchView | None
    cooldown_remaining_s: float
    # another policy's action on the target holds this one back this long (0: free)
    target_cooldown_remaining_s: float
    budget_used: dict[str, BudgetUse]  # "policy" and/or "service"
    breaker: BreakerView
    condition_true_since: float | None


class Budgets(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    per_service: Budget | None
    global_: Budget | None = Field(alias="global")


class BreakerSettings(BaseModel):
    failures: int
    open_for_s: float


class PolicySettings(BaseModel):
    """The effective settings: the file's `settings:` over the environment's defaults."""

    budgets: Budgets
    verification_window_s: float
    grace_period_s: float
    breaker: BreakerSettings
    dry_run: bool
    manual_cooldown_s: float
    target_cooldown: bool
    allow_scale_to_zero: bool


class PoliciesView(PoliciesState):
    """`GET /policies` and `POST /policies/reload`."""

    items: list[PolicyView]
    settings: PolicySettings


class PlanRow(BaseModel):
    """Would this policy act on the service now, or why not. `detail` and `would_act` are
    present only once the condition holds."""

    policy: str
    action: str
    condition: str
    for_s: float
    condition_holds: bool | None  # null: no fresh snapshot, or a value it reads is missing
    verdict: str
    detail: str | None = None
    would_act: bool | None = None


class PlanView(BaseModel):
    """`GET /plan?service=`: what the engine would do about one service now, without doing it.
    `version` is absent when no valid policy set is loaded."""

    service: str
    version: str | None = None
    policies: list[PlanRow]
    summary: str


class ScheduledAction(BaseModel):
    id: str
    policy: str
    action: str
    service: str


class AlertIntake(BaseModel):
    """`POST /alerts`: what became of each alert of one webhook delivery."""

    received: int
    duplicates: int
    resolved: int
    ignored: int
    scheduled: list[ScheduledAction]
    notes: list[str]  # "alert N: why it was ignored"


class Toggled(BaseModel):
    """`POST /toggle`: automatic remediation on or off, now."""

    enabled: bool


class ContainerChange(BaseModel):
    """One lifecycle event of a container, as the Docker events stream reports it."""

    at: float
    action: str  # create | start | restart | die | kill | oom | stop | destroy
    container: str
    image: str = ""
    exit_code: int | None = None


class ContainerChanges(BaseModel):
    """`GET /changes?service=&since=`: the service's container events, oldest first."""

    service: str
    since: float
    items: list[ContainerChange]
