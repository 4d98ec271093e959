"""`python -m anomaly_service`: read settings and the catalog once, then serve."""

from __future__ import annotations

import sys

import uvicorn

from anomaly_service.app import create_app
from anomaly_service.catalog import CatalogError
from anomaly_service.config import Settings
from relia_web.logs import configure_logging


def main() -> int:
    configure_logging()
    try:
        settings = Settings()
        app = create_app(settings)
    except CatalogError as exc:
        # A bad catalog is a configuration error: refuse to start, say exactly where.
        print(f"anomaly_service: invalid metric catalog: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"anomaly_service: invalid settings: {exc}", file=sys.stderr)
        return 2
    # No access log: the dashboard and policy engine poll every few seconds.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
