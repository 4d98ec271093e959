"""The service's own Prometheus metrics, on an explicit registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.cycle_duration = Histogram(
            "relia_anomaly_cycle_duration_seconds",
            "Duration of one detection cycle",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.cycles = Counter(
            "relia_anomaly_cycles_total",
            "Detection cycles by outcome (ok|prometheus_down)",
            ["outcome"],
            registry=r,
        )
        self.repeated_scrapes = Counter(
            "relia_anomaly_repeated_scrape_reads_total",
            "Services a cycle skipped because their newest scrape was already fed to the detector",
            registry=r,
        )
        self.out_of_order = Counter(
            "relia_anomaly_out_of_order_samples_total",
            "Samples skipped because they were older than the series' last point (clock step"
            " back, scrape times going backwards)",
            registry=r,
        )
        self.scrape_gaps = Counter(
            "relia_anomaly_scrape_gaps_total",
            "Holes in the scrapes the engine saw, by cause (prometheus_down|prometheus_restart|"
            "engine_start|new_target); no_data waits until the query windows are whole again",
            ["cause"],
            registry=r,
        )
        self.no_data_held = Gauge(
            "relia_anomaly_no_data_held_series",
            "Series absent this cycle whose no_data waits because their window spans a hole",
            registry=r,
        )
        self.series_tracked = Gauge(
            "relia_anomaly_series_tracked", "Series with state in the detector", registry=r
        )
        self.active = Gauge(
            "relia_anomaly_active_anomalies",
            "Active anomalies by metric, severity and kind",
            ["metric", "severity", "kind"],
            registry=r,
        )
        self.opened = Counter(
            "relia_anomaly_anomalies_opened_total",
            "Anomalies opened by metric, severity, kind",
            ["metric", "severity", "kind"],
            registry=r,
        )
        self.last_success = Gauge(
            "relia_anomaly_last_successful_cycle_timestamp_seconds",
            "Unix time of the last cycle that reached Prometheus",
            registry=r,
        )
        self.prometheus_up = Gauge(
            "relia_anomaly_prometheus_up", "1 when the last cycle reached Prometheus", registry=r
        )
        self.query_errors = Gauge(
            "relia_anomaly_metric_query_error",
            "1 when Prometheus rejects this catalog metric",
            ["metric"],
            registry=r,
        )
        self.events = Counter(
            "relia_anomaly_event_deliveries_total",
            "Event deliveries to the policy engine by outcome (delivered|retry|failed|dropped)",
            ["outcome"],
            registry=r,
        )
        self.events_emitted = Counter(
            "relia_anomaly_events_total",
            "Events emitted by status (firing|resolved)",
            ["status"],
            registry=r,
        )
