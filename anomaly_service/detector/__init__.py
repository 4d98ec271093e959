"""The detector core: streaming robust baselines, severity and hysteresis (pure numpy, no I/O)."""

from anomaly_service.detector.bank import SeriesBank, Verdicts
from anomaly_service.detector.config import DetectorConfig, Direction, Severity
from anomaly_service.detector.series import SeriesResult, score_many, score_series

__all__ = [
    "DetectorConfig",
    "Direction",
    "SeriesBank",
    "SeriesResult",
    "Severity",
    "Verdicts",
    "score_many",
    "score_series",
]
