"""One log setup for every Relia component's process."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    """INFO to stderr with time, level and logger; httpx at WARNING (a line per request is noise:
    the components poll Prometheus and each other every few seconds)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
