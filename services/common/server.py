"""Run an app with uvicorn, configured from settings, logging through our JSON handler."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from prometheus_client import disable_created_metrics

from services.common.config import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    # `*_created` series double the exposition and nothing here queries them.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep our JSON handler on the root logger
        access_log=False,  # the metrics middleware logs each request with its trace ids
        # Hung requests never finish on their own: do not let them block a stop forever.
        timeout_graceful_shutdown=5,
        server_header=False,
    )
