"""`python -m services.orders`: settings from the environment, then uvicorn."""

from services.common.logs import configure_logging
from services.common.server import serve
from services.orders.app import create_app
from services.orders.config import OrdersSettings


def main() -> None:
    settings = OrdersSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
