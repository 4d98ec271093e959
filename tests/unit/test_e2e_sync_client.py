"""The e2e suite's sync facade over the chaos library's client (tests/e2e/sync_client.py): its
one bounded wait, and calls made from a wait's probe (a worker thread) reaching the client's
own loop. No stack: the targets are a port nothing listens on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from chaos_simulator.client import Targets
from tests.e2e.sync_client import SyncPlatform, wait_until
from tests.support.procs import free_port


@pytest.fixture
def dead_platform() -> Iterator[SyncPlatform]:
    url = f"http://127.0.0.1:{free_port()}"
    platform = SyncPlatform(Targets(services={"orders": url}, anomaly_url=url, policy_url=url))
    yield platform
    platform.close()


def test_wait_until_returns_the_first_truthy_value() -> None:
    calls: list[int] = []

    def probe() -> dict[str, int] | None:
        calls.append(1)
        return {"at": len(calls)} if len(calls) >= 3 else None

    assert wait_until("three calls", probe, 5, 0.01) == {"at": 3}
    assert len(calls) == 3


def test_wait_until_fails_after_its_deadline_with_what_and_the_last_error(
    dead_platform: SyncPlatform,
) -> None:
    started = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"waiting for the anomaly service .*TargetUnreachable"
    ):
        wait_until("the anomaly service", dead_platform.ready, 0.5, 0.1)
    assert 0.5 <= time.monotonic() - started < 5


def test_platform_calls_from_a_probe_and_best_effort_clear(dead_platform: SyncPlatform) -> None:
    threads: set[str] = set()

    def probe() -> int | None:
        threads.add(threading.current_thread().name)
        return dead_platform.clear("orders") or None  # 0: the service did not answer

    with pytest.raises(AssertionError, match="timed out after 0s waiting for a clear"):
        wait_until("a clear", probe, 0.3, 0.1)
    assert threads
    assert threading.main_thread().name not in threads  # probes run off the test's thread
    dead_platform.close()  # twice (the fixture's too): a no-op the second time
    assert not any(t.name == "e2e-platform" for t in threading.enumerate())
