from __future__ import annotations

from services.common.config import ServiceSettings


class UsersSettings(ServiceSettings):
    service_name: str = "users"
