"""A real engine process polls /predict over HTTP: sustained conditions act, stale data does not."""

from __future__ import annotations

from pathlib import Path

import httpx
from pe_support import PredictServer, Receiver, actions, start_engine, wait_for


def cpu(value: float) -> dict[str, object]:
    return {
        "generated_at": 0,
        "cycle": 1,
        "ready": True,
        "series": [
            {
                "service": "orders",
                "metric": "cpu",
                "labels": {"service": "orders"},
                "value": value,
                "severity": "warning" if value > 0.7 else "normal",
                "kind": None,
                "anomaly_id": None,
            }
        ],
    }


def test_sustained_condition_from_the_snapshot(tmp_path: Path) -> None:
    predict, receiver = PredictServer(), Receiver()
    policies = tmp_path / "policies.yml"
    policies.write_text(f"""
policies:
  - {{name: hot, condition: "cpu > 0.7", for: 1s, action: alert, service: orders,
     cooldown: 1h, params: {{url: "{receiver.url}"}}}}
""")
    predict.body = cpu(0.1)
    engine = start_engine(
        tmp_path, policies, ANOMALY_SERVICE_URL=predict.url, SNAPSHOT_STALE_S="1.5"
    )
    try:
        wait_for(
            lambda: httpx.get(engine.url + "/status").json()["anomaly_service"]["fresh"],
            what="fresh snapshot",
        )
        assert actions(engine)["total"] == 0
        predict.body = cpu(0.95)
        wait_for(lambda: len(receiver.bodies) == 1, what="alert after 1 s of high cpu")
        (rec,) = actions(engine)["items"]
        assert rec["policy"] == "hot"
        assert rec["outcome"] == "succeeded"
        assert rec["trigger"]["source"] == "snapshot"
        assert rec["trigger"]["value"] == 0.95
        # the anomaly service goes away: the snapshot turns stale and the error is shown
        predict.body = None
        status = wait_for(
            lambda: (
                (s := httpx.get(engine.url + "/status").json())["anomaly_service"]["fresh"] is False
                and s
            ),
            what="stale",
        )
        assert "503" in status["anomaly_service"]["error"]
        assert "policy_engine_snapshot_fresh 0.0" in httpx.get(engine.url + "/metrics").text
        assert actions(engine, outcome="succeeded")["total"] == 1
        assert len(receiver.bodies) == 1
        # while it stayed hot, the cooldown skip was written once, not once per `for` window
        assert actions(engine, outcome="skipped")["total"] <= 1
    finally:
        engine.stop()
        predict.close()
        receiver.close()
