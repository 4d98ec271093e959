"""`python -m dashboard`: serve the dashboard on $HOST:$PORT."""

from __future__ import annotations

import uvicorn

from dashboard.app import create_app
from dashboard.config import Settings
from relia_web.logs import configure_logging


def main() -> None:
    configure_logging()
    settings = Settings()
    app = create_app(settings)
    # Open event streams would otherwise hold a shutdown until every browser tab goes away.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
