"""The components' shared log setup."""

from __future__ import annotations

import logging

from relia_web.logs import configure_logging


def test_httpx_request_lines_are_off() -> None:
    httpx_logger = logging.getLogger("httpx")
    before = httpx_logger.level
    try:
        configure_logging()
        assert not httpx_logger.isEnabledFor(logging.INFO)
        assert httpx_logger.isEnabledFor(logging.WARNING)
    finally:
        httpx_logger.setLevel(before)
