"""The before/after check of response models (tests/support/wire.py) sees every change a model
could make to an answer, and the twin it serves is the handler without the model."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from tests.support.wire import RAW, add_raw_twins, differences, schema_ref


def test_differences_sees_drops_additions_nulls_and_conversions() -> None:
    raw = {"n": 1, "x": 0.5, "s": None, "items": [{"k": True}], "gone": "x"}
    assert differences(raw, raw) == []
    modelled = {"n": 1.0, "x": 0.5, "s": "", "items": [{"k": 1}], "new": 0}
    assert sorted(differences(modelled, raw)) == sorted(
        [
            "$.n: int 1 became float",
            "$.s: NoneType None became str",
            "$.items[0].k: bool True became int",
            "$.gone: dropped",
            "$.new: added",
        ]
    )
    assert differences({"l": [1]}, {"l": [1, 2]}) == ["$.l: 2 items became 1"]


class Lossy(BaseModel):
    count: float  # the handler answers an int


def test_a_lossy_model_shows_against_its_twin() -> None:
    app = FastAPI()

    @app.get("/count", response_model=Lossy)
    def count() -> dict[str, Any]:
        return {"count": 3, "extra": "dropped by the model"}

    assert add_raw_twins(app) == {"/count": Lossy}
    client = TestClient(app)
    typed, raw = client.get("/count").json(), client.get(RAW + "/count").json()
    assert raw == {"count": 3, "extra": "dropped by the model"}
    assert sorted(differences(typed, raw)) == ["$.count: int 3 became float", "$.extra: dropped"]
    doc = client.get("/openapi.json").json()
    assert schema_ref(doc, "/count") == {"$ref": "#/components/schemas/Lossy"}
