"""GET /predict and GET /services/health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from anomaly_service.api import views
from anomaly_service.api.deps import engine
from relia_contracts.classification import PredictSnapshot, ServicesHealth

router = APIRouter(tags=["classification"])


@router.get("/predict", response_model=PredictSnapshot)
def predict(request: Request) -> dict[str, Any]:
    """Current classification of every series."""
    return views.predict(engine(request))


@router.get("/services/health", response_model=ServicesHealth)
def services_health(request: Request) -> dict[str, Any]:
    """Roll-up per service: status, replicas, open anomalies, key signals."""
    return views.services_health(engine(request))
