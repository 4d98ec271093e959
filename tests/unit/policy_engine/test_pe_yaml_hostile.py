"""Hostile policies files: alias bombs, python tags, huge and deep documents.

Each is refused fast, with a bounded message, before anything is expanded; the engine keeps (or
starts on) its last good set.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pe_fakes import FakeActuator, FakeClock, FakeNotifier, FakeSnapshots, settings

from policy_engine.engine import LAST_GOOD_KEY, Engine
from policy_engine.metrics import EngineMetrics
from policy_engine.policies import load_policies
from policy_engine.reload_thread import reload_off_loop
from policy_engine.store import Store
from policy_engine.yaml_load import MAX_FILE_BYTES, YamlRejected, bounded, load_yaml

GOOD = """
policies:
  - name: orders_latency
    condition: "latency > 0.5"
    action: restart_container
    service: orders
"""

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "policies:\n  - name: *i\n"
)
PYTHON_TAG = "policies: !!python/object/apply:os.system ['echo pwned']\n"
CUSTOM_TAG = "policies:\n  - !policy {name: x}\n"
HUGE = "policies:\n" + "  # padding padding padding padding padding padding padding\n" * 20_000
DEEP = "policies: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_MAPPING = "policies:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200))

HOSTILE = {
    "alias bomb": (ALIAS_BOMB, "anchors"),
    "python tag": (PYTHON_TAG, "tag"),
    "custom tag": (CUSTOM_TAG, "tag"),
    "1 MB file": (HUGE, "larger than"),
    "deep flow": (DEEP, "nested deeper"),
    "deep block": (DEEP_MAPPING, "nested deeper"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_fast_with_a_bounded_message(name: str) -> None:
    text, needle = HOSTILE[name]
    started = time.perf_counter()
    active, errors = load_policies(text.encode(), "policies.yml")
    elapsed = time.perf_counter() - started
    assert active is None
    assert elapsed < 1.0, f"{name} took {elapsed:.2f}s"
    assert len(errors) == 1
    assert errors[0].field == "file"
    assert needle in errors[0].message
    assert len(errors[0].message) <= 400


def test_huge_file_is_at_least_a_megabyte() -> None:
    assert len(HUGE.encode()) > 1_000_000 > MAX_FILE_BYTES


def test_alias_is_refused_even_without_anchor_expansion() -> None:
    with pytest.raises(YamlRejected, match="alias"):
        load_yaml(b"a: *undefined\n")


def test_core_tags_and_plain_documents_still_load() -> None:
    assert load_yaml(b"a: !!str 5\nb: [1, 2.5, true, null]\n") == {
        "a": "5",
        "b": [1, 2.5, True, None],
    }


def test_echoed_values_are_bounded() -> None:
    text = GOOD.replace("orders\n", "'" + "x" * 100_000 + "'\n", 1)
    text += "".join(f"  - name: p{i}\n    action: nope\n" for i in range(500))
    active, errors = load_policies(text.encode(), "policies.yml")
    assert active is None
    assert len(errors) <= 51
    assert all(len(e.message) <= 400 and len(e.field) <= 200 for e in errors)
    assert sum(len(str(e)) for e in errors) < 50_000
    assert bounded("y" * 1000, 10).startswith("yyyyyyyyyy... (990 more")


def _engine(store: Store, file: Path) -> Engine:
    clock = FakeClock()
    return Engine(
        settings(policies_file=file),
        store,
        FakeActuator(clock),
        FakeSnapshots(),
        FakeNotifier(),  # type: ignore[arg-type]
        EngineMetrics(),
        clock=clock,
    )


@pytest.mark.parametrize("name", ["alias bomb", "python tag", "1 MB file", "deep flow"])
def test_engine_starts_on_last_good_set_when_the_file_is_hostile(name: str, tmp_path: Path) -> None:
    file = tmp_path / "policies.yml"
    store = Store(tmp_path / "state.sqlite3")
    file.write_text(GOOD)
    first = _engine(store, file)
    first.start()
    assert first.policies.active is not None
    assert store.get(LAST_GOOD_KEY) is not None
    good_version = first.policies.active.version

    file.write_text(HOSTILE[name][0])
    started = time.perf_counter()
    second = _engine(store, file)
    second.start()
    assert time.perf_counter() - started < 1.0
    assert second.policies.active is not None
    assert second.policies.active.version == good_version
    assert second.policies.from_store
    assert not second.policies.valid
    assert all(len(e.message) <= 400 for e in second.policies.errors)


def test_cycle_reloads_off_the_event_loop(tmp_path: Path) -> None:
    """While the file is parsed, the loop keeps serving: a ticker runs during the reload."""
    file = tmp_path / "policies.yml"
    file.write_text(GOOD)
    engine = _engine(Store(Path(":memory:")), file)
    engine.start()
    rules = "".join(
        f"  - name: p{i}\n    condition: 'latency > 0.5'\n"
        f"    action: restart_container\n    service: orders\n"
        for i in range(1500)
    )
    file.write_text("policies:\n" + rules)
    assert file.stat().st_size < MAX_FILE_BYTES

    async def main() -> int:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await engine.cycle()
        done = True
        await task
        return ticks

    ticks = asyncio.run(main())
    assert engine.policies.active is not None
    assert len(engine.policies.active.policies) == 1500
    assert ticks > 3


def test_reloads_off_the_loop_never_overlap() -> None:
    class SlowEngine:
        def __init__(self) -> None:
            self.running = 0
            self.most = 0
            self.calls: list[bool] = []

        def reload(self, force: bool = False) -> None:
            self.running += 1
            self.most = max(self.most, self.running)
            time.sleep(0.02)
            self.calls.append(force)
            self.running -= 1

    engine = SlowEngine()

    async def main() -> None:
        await asyncio.gather(*(reload_off_loop(engine, force=i % 2 == 0) for i in range(6)))

    asyncio.run(main())
    assert engine.most == 1
    assert len(engine.calls) == 6
