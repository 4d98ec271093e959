"""`python -m services.users`: settings from the environment, then uvicorn."""

from services.common.logs import configure_logging
from services.common.server import serve
from services.users.app import create_app
from services.users.config import UsersSettings


def main() -> None:
    settings = UsersSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
