"""The engine against a real Prometheus: cycles faster than the scrapes feed the detector one
point per scrape, never the same scrape twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from anomaly_it_support import GaugeExporter

from anomaly_service.catalog import MetricSpec
from anomaly_service.cyclebench import NullNotifier
from anomaly_service.detector import DetectorConfig
from anomaly_service.engine import Engine
from anomaly_service.engine_state import EngineOptions
from anomaly_service.metrics import ServiceMetrics
from anomaly_service.prometheus import PrometheusAdapter
from tests.support.prometheus import PrometheusServer, ScrapeTarget

pytestmark = pytest.mark.prometheus

LEVEL = MetricSpec(
    "level", 'max by (service) (relia_it_value{job="services"})', "widgets", "up", None
)


async def run_cycles(url: str, cycles: int, every_s: float) -> Engine:
    source = PrometheusAdapter(url)
    engine = Engine(
        [LEVEL],
        source,
        NullNotifier(),
        time.time,
        EngineOptions(backfill_window_s=0),
        ServiceMetrics(),
        DetectorConfig(),
    )
    try:
        for _ in range(cycles):
            await engine.run_cycle()
            await asyncio.sleep(every_s)
    finally:
        await source.aclose()
    return engine


def test_cycles_faster_than_scrapes_feed_each_scrape_once(tmp_path: Path) -> None:
    exporter = GaugeExporter(10.0)
    target = ScrapeTarget("services", f"127.0.0.1:{exporter.port}", {"service": "orders"})
    prom = PrometheusServer(tmp_path, [target], scrape_interval="2s").start()
    try:
        prom.wait_for_targets_up(1, timeout_s=30)
        scrapes_before = exporter.scrapes
        # 16 cycles 0.5 s apart span about 8 s: four or five 2 s scrapes.
        engine = asyncio.run(run_cycles(prom.url, cycles=16, every_s=0.5))
        scrapes = exporter.scrapes - scrapes_before
    finally:
        prom.stop()
        exporter.stop()
    (series,) = engine.tracker.series.values()
    fed = len(series.evidence)
    assert engine.state.cycle == 16
    assert series.missing_cycles == 0
    # The first cycle reads the scrape taken before it; each later point needs a new scrape.
    assert 2 <= fed <= scrapes + 1, (fed, scrapes)
