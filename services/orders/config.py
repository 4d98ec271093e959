from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.common.config import ServiceSettings


class OrdersSettings(ServiceSettings):
    service_name: str = "orders"
    users_url: str = "http://users:8000"
    payments_url: str = "http://payments:8000"
    downstream_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    ready_timeout_s: Annotated[float, Field(gt=0, le=10)] = 1.0
    # Promotions evaluated per item when pricing (~0.1 ms of CPU each on this machine).
    pricing_rounds: Annotated[int, Field(ge=1, le=1000)] = 24
