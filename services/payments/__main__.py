"""`python -m services.payments`: settings from the environment, then uvicorn."""

from services.common.logs import configure_logging
from services.common.server import serve
from services.payments.app import create_app
from services.payments.config import PaymentsSettings


def main() -> None:
    settings = PaymentsSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
