from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.common.config import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: str = "payments"
    # Rounds of the fraud model per authorization (~0.4 ms of CPU each on this machine).
    fraud_rounds: Annotated[int, Field(ge=1, le=200)] = 8
    decline_threshold: Annotated[float, Field(gt=0, le=1)] = 0.8
