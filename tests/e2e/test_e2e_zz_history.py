"""History on the real stack: the anomaly service's container restarts (SQLite on the
`anomaly-state` volume), and the anomaly list, an operator's feedback and the sensitivity it set
come back unchanged, with no anomaly opened twice. Runs last (tests/e2e/conftest.py ORDER): the
earlier scenarios leave a history worth keeping."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.harness import run
from tests.e2e.report import REPORT
from tests.e2e.sync_client import wait_until

pytestmark = pytest.mark.e2e


def _listing(stack: Stack) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in stack.api.anomalies()}


def _sensitivity(stack: Stack, series_id: str) -> float | None:
    rows = stack.api.series()
    return next((r.get("sensitivity") for r in rows if r.get("series_id") == series_id), None)


@pytest.mark.timeout(300)
def test_anomaly_history_and_feedback_survive_a_restart_of_the_anomaly_service(
    stack: Stack,
) -> None:
    before = _listing(stack)
    resolved = [a for a in before.values() if a["status"] == "resolved" and a["kind"] != "no_data"]
    assert resolved, f"the earlier scenarios left no resolved anomaly: {list(before.values())}"
    target = max(resolved, key=lambda a: a["opened_at"])
    # 201 Created or an ApiError naming the status and the service's reason
    answer = stack.api.run(
        stack.api.client.anomaly.label(target["id"], "noise", "e2e: history across a restart")
    )
    assert answer.feedback.anomaly_id == target["id"], answer
    series_id = next(
        r["series_id"]
        for r in stack.api.series()
        if r["service"] == target["service"] and r["metric"] == target["metric"]
    )
    widened = _sensitivity(stack, series_id)
    assert widened is not None and widened > 1.0, widened

    run([*stack.compose, "restart", "anomaly-service"], timeout=120)
    wait_until("the anomaly service to be ready again", stack.api.ready, 120, 2)
    after = _listing(stack)

    missing = sorted(set(before) - set(after))
    assert missing == [], f"anomalies lost by the restart: {missing}"
    changed = [
        i for i, a in before.items()
        if a["status"] == "resolved" and (after[i]["opened_at"], after[i]["resolved_at"])
        != (a["opened_at"], a["resolved_at"])
    ]  # fmt: skip
    assert changed == [], f"resolved anomalies changed by the restart: {changed}"
    reopened = [
        (a["service"], a["metric"]) for i, a in after.items() if i not in before
        and any((b["service"], b["metric"]) == (a["service"], a["metric"])
                and b["status"] == "active" for b in before.values())
    ]  # fmt: skip
    assert reopened == [], f"an anomaly open before the restart was opened again: {reopened}"
    feedback = stack.api.run(stack.api.client.anomaly.feedback()).items
    assert any(f.anomaly_id == target["id"] for f in feedback), feedback
    assert _sensitivity(stack, series_id) == widened
    REPORT.facts["anomaly list across a restart of anomaly-service"] = (
        f"{len(before)} before, {len(after)} after, lost {len(missing)}, "
        f"{sum(a['status'] == 'active' for a in before.values())} open before; feedback and "
        f"sensitivity x{widened} on {target['service']} {target['metric']} kept"
    )
