"""Condition vocabulary from the anomaly service's catalog: add a signal, no code change.

The catalog is served by a real anomaly service app (in process, over ASGI) whose test catalog
has a signal the engine's code never heard of: `queue_depth`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pe_fakes import FakeActuator, FakeClock, FakeNotifier, FakeSnapshots, settings

from anomaly_service.app import create_app as create_anomaly_service
from anomaly_service.config import Settings as AnomalySettings
from policy_engine.app import create_app, refresh_vocabulary
from policy_engine.conditions import DEFAULT_METRICS, METRICS, evaluate, set_vocabulary
from policy_engine.engine import Engine
from policy_engine.policies import load_policies
from policy_engine.snapshot import Series, Snapshot
from policy_engine.store import Store
from policy_engine.vocabulary import Vocabulary, signals_from_catalog
from tests.unit.anomaly_service.anomaly_fakes import FakeClock as AnomalyClock
from tests.unit.anomaly_service.anomaly_fakes import FakePrometheus, ListNotifier, spec

QUEUE_POLICY = """
policies:
  - name: orders_queue
    condition: "queue_depth > 100 and latency > 200ms"
    action: scale_up
    service: orders
"""


@pytest.fixture(autouse=True)
def _default_vocabulary() -> Iterator[None]:
    set_vocabulary(None)
    yield
    set_vocabulary(None)


def anomaly_service_models(*names: str) -> Any:
    """A fetch that asks a real anomaly service (test catalog) for GET /models over ASGI."""
    catalog = [spec(), *(spec(name=n, query=f"q_{n}", unit="items") for n in names)]
    app = create_anomaly_service(
        AnomalySettings(check_interval=5.0, policy_engine_url=""),
        prometheus_client_adapter=FakePrometheus(),
        notifier=ListNotifier(),
        clock=AnomalyClock(),
        catalog=catalog,
        run_loop=False,
    )

    async def fetch() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://anomaly") as client:
            response = await client.get("/models")
            response.raise_for_status()
            return response.json()

    return fetch


async def unreachable() -> Any:
    raise httpx.ConnectError("connection refused")


def test_never_reachable_means_todays_six_names() -> None:
    store = Store(Path(":memory:"))
    vocabulary = Vocabulary(store, "http://anomaly", fetch=unreachable)
    assert vocabulary.restore() == "default"
    assert asyncio.run(vocabulary.refresh()) is False
    assert vocabulary.names == list(DEFAULT_METRICS)
    assert "ConnectError" in (vocabulary.last_error or "")
    active, errors = load_policies(QUEUE_POLICY, "policies.yml")
    assert active is None
    message = errors[0].message
    assert "unknown metric 'queue_depth'" in message
    assert "known: latency, error_rate, cpu, memory, request_rate, availability" in message


def test_a_signal_added_to_the_catalog_is_usable_with_no_code_change() -> None:
    store = Store(Path(":memory:"))
    vocabulary = Vocabulary(store, "http://anomaly", fetch=anomaly_service_models("queue_depth"))
    vocabulary.restore()
    assert asyncio.run(vocabulary.refresh(123.0)) is True
    assert vocabulary.names == ["latency", "queue_depth"]
    assert vocabulary.source == "catalog"
    active, errors = load_policies(QUEUE_POLICY, "policies.yml")
    assert errors == []
    assert active is not None
    # the snapshot carries the new signal into the condition
    snap = Snapshot(
        0.0,
        (
            Series("orders", "queue_depth", 150.0, "warning", "deviation", "a-1"),
            Series("orders", "latency", 0.3, "normal", None, None),
        ),
    )
    assert evaluate(active.policies[0].ast, snap.context("orders")) is True
    # a name the catalog dropped is now unknown, and the error lists the catalog's names
    gone, errors = load_policies(QUEUE_POLICY.replace("queue_depth", "cpu"), "p.yml")
    assert gone is None
    assert (
        "(known: latency, queue_depth, severity, no_data, caused_by_dependency, caused_by_load)"
        in errors[0].message
    )
    # unchanged catalog: nothing to do
    assert asyncio.run(vocabulary.refresh()) is False


def test_last_good_copy_survives_a_restart_with_the_anomaly_service_down() -> None:
    store = Store(Path(":memory:"))
    first = Vocabulary(store, "http://anomaly", fetch=anomaly_service_models("queue_depth"))
    first.restore()
    asyncio.run(first.refresh())
    set_vocabulary(None)
    second = Vocabulary(store, "http://anomaly", fetch=unreachable)
    assert second.restore() == "store"
    assert asyncio.run(second.refresh()) is False
    assert "queue_depth" in METRICS
    assert load_policies(QUEUE_POLICY, "policies.yml")[0] is not None


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"catalog": []}, "non-empty"),
        ({"catalog": [{"name": "severity"}]}, "reserved"),
        ({"catalog": [{"name": "and"}]}, "reserved"),
        ({"catalog": [{"name": "a b"}]}, "not a signal name"),
        ({"catalog": [{"name": "x" * 5000}]}, "not a signal name"),
        ({"catalog": [{"name": "q"}, {"name": "q"}]}, "duplicate"),
        ([1, 2], "non-empty"),
    ],
)
def test_a_bad_catalog_is_refused_and_the_last_good_kept(payload: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why) as caught:
        signals_from_catalog(payload)
    assert len(str(caught.value)) < 400
    store = Store(Path(":memory:"))
    vocabulary = Vocabulary(store, "http://anomaly", fetch=anomaly_service_models("queue_depth"))
    asyncio.run(vocabulary.refresh())

    async def bad() -> Any:
        return payload

    vocabulary._fetch = bad
    assert asyncio.run(vocabulary.refresh()) is False
    assert "queue_depth" in METRICS
    assert why in (vocabulary.last_error or "")


def test_the_policies_file_is_validated_again_when_the_vocabulary_changes(
    tmp_path: Path,
) -> None:
    file = tmp_path / "policies.yml"
    file.write_text(QUEUE_POLICY)
    clock = FakeClock()
    store = Store(Path(":memory:"))
    vocabulary = Vocabulary(store, "http://anomaly", fetch=anomaly_service_models("queue_depth"))
    app = create_app(
        settings(policies_file=file),
        FakeActuator(clock),
        store=store,
        snapshots=FakeSnapshots(),
        notifier=FakeNotifier(),  # type: ignore[arg-type]
        clock=clock,
        run_loop=False,
        vocabulary=vocabulary,
    )
    engine: Engine = app.state.engine
    assert engine.policies.active is None
    assert not engine.policies.valid
    assert asyncio.run(refresh_vocabulary(engine, vocabulary)) is True
    assert engine.policies.valid
    assert engine.policies.active is not None
    assert engine.policies.active.policies[0].name == "orders_queue"
    with TestClient(app) as client:
        shown = client.get("/status").json()["vocabulary"]
    assert shown["names"] == ["latency", "queue_depth"]
    assert shown["source"] == "catalog"
