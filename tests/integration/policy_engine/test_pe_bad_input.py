"""Bad input against a real engine process: a clear 4xx, it keeps serving, nothing changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pe_support import AUTH, Receiver, actions, firing, start_engine

from tests.support.procs import Proc


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[Proc, Receiver]]:
    receiver = Receiver()
    path = tmp_path / "policies.yml"
    path.write_text(f"""
policies:
  - {{name: page, condition: "latency > 0.5", action: alert, service: orders, cooldown: 0,
     params: {{url: "{receiver.url}"}}}}
""")
    proc = start_engine(tmp_path, path, MAX_BODY_BYTES="65536")
    yield proc, receiver
    proc.stop()
    receiver.close()


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"version": "4", "alerts": ['
    for _ in range(total // 1024):
        yield b" " * 1024
    yield b"]}"


GOOD = json.dumps(firing("good")).encode()
JSON = {"Content-Type": "application/json"}
JSON_AUTH = {**AUTH, **JSON}
CASES = [
    ("garbage", b"\x00\x01garbage", JSON_AUTH, 400),
    ("truncated JSON", GOOD[:-5], JSON_AUTH, 400),
    ("NaN", b'{"version": "4", "status": "firing", "alerts": [], "x": NaN}', JSON_AUTH, 400),
    ("wrong shape", b'{"alerts": "all of them"}', JSON_AUTH, 422),
    ("string status", GOOD.replace(b'"status": "firing"', b'"status": 1'), JSON_AUTH, 422),
    ("too big (declared)", b"[" + b" " * 70_000 + b"]", JSON_AUTH, 413),
    ("deep JSON", b"[" * 100_000 + b"]" * 100_000, JSON_AUTH, 413),
    ("deep JSON, small", b"[" * 30_000 + b"]" * 30_000, JSON_AUTH, 400),
    ("no token", GOOD, JSON, 401),
    ("no content type", GOOD, AUTH, 415),
    ("text/plain (cross-site form)", GOOD, {**AUTH, "Content-Type": "text/plain"}, 415),
    ("foreign origin", GOOD, {**JSON_AUTH, "Origin": "https://evil.example"}, 403),
]


@pytest.mark.parametrize(("name", "body", "headers", "status"), CASES, ids=[c[0] for c in CASES])
def test_bad_alert_bodies(
    engine: tuple[Proc, Receiver], name: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    proc, receiver = engine
    r = httpx.post(proc.url + "/alerts", content=body, headers=headers, timeout=10)
    assert r.status_code == status, (name, r.text)
    assert r.json()["detail"], name  # a message, not an empty error
    assert actions(proc)["total"] == 0
    assert receiver.bodies == []
    assert httpx.get(proc.url + "/health", timeout=5).status_code == 200


def test_chunked_huge_body_without_length_is_cut_off(engine: tuple[Proc, Receiver]) -> None:
    proc, _ = engine
    r = httpx.post(proc.url + "/alerts", content=_chunks(2_000_000), headers=JSON_AUTH, timeout=30)
    assert r.status_code == 413
    assert "larger than 65536" in r.text
    assert actions(proc)["total"] == 0


def test_bad_toggle_and_manual_actions_change_nothing(engine: tuple[Proc, Receiver]) -> None:
    proc, _ = engine
    for body, status in ((b'{"enabled": "no"}', 422), (b"[]", 422), (b"{", 400)):
        r = httpx.post(proc.url + "/toggle", content=body, headers=JSON_AUTH)
        assert r.status_code == status
    assert httpx.post(proc.url + "/toggle", json={"enabled": False}).status_code == 401
    manual = [
        {"action": "explode", "service": "orders"},
        {"action": "scale_up", "service": "orders", "params": {"max_replicas": 0}},
        {"action": "restart_container", "service": "a b"},
        {"service": "orders"},
    ]
    for body in manual:
        r = httpx.post(proc.url + "/actions", json=body, headers=AUTH)
        assert r.status_code == 422, (body, r.text)
    assert httpx.get(proc.url + "/status").json()["enabled"] is True
    assert actions(proc)["total"] == 0
    # after all that, a good alert still acts
    r = httpx.post(proc.url + "/alerts", content=GOOD, headers=JSON_AUTH, timeout=10)
    assert r.status_code == 200
    assert len(r.json()["scheduled"]) == 1
