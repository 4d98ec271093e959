"""Orders domain: models and pricing (Decimal arithmetic with a real CPU cost). No I/O."""

from __future__ import annotations

import secrets
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.20")


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    qty: Annotated[int, Field(ge=1, le=1000)]
    unit_price: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=50)]


class Quote(BaseModel):
    subtotal: float
    discount: float
    tax: float
    total: float


class Order(BaseModel):
    id: str
    customer_id: str
    items: list[OrderItem]
    status: Literal["confirmed", "declined"]
    subtotal: float
    discount: float
    tax: float
    total: float
    payment_id: str | None
    fraud_score: float | None
    created_at: float


def _promotion(rule: int, qty: int, price: Decimal, gold: bool) -> Decimal:
    """Discount of one candidate promotion (volume tiers, bundles, loyalty) for one line."""
    line = price * qty
    tier = Decimal(min(qty // (5 + rule % 7), 10)) / Decimal(100)
    bundle = (
        (Decimal(qty // (2 + rule % 3)) * price * Decimal("0.05")) if rule % 4 == 0 else Decimal(0)
    )
    loyalty = line * Decimal("0.02") if gold and rule % 5 == 0 else Decimal(0)
    cap = line * Decimal("0.25")  # no promotion ever takes more than a quarter off a line
    return min(cap, (line * tier + bundle + loyalty).quantize(CENT, ROUND_HALF_EVEN))


def price(items: list[OrderItem], gold: bool, rounds: int) -> Quote:
    """Best promotion per line among `rounds` candidates, then tax: exact decimal money."""
    subtotal = Decimal(0)
    discount = Decimal(0)
    for item in items:
        unit = Decimal(str(item.unit_price)).quantize(CENT, ROUND_HALF_EVEN)
        subtotal += unit * item.qty
        discount += max(_promotion(rule, item.qty, unit, gold) for rule in range(rounds))
    taxable = subtotal - discount
    tax = (taxable * TAX_RATE).quantize(CENT, ROUND_HALF_EVEN)
    return Quote(
        subtotal=float(subtotal.quantize(CENT)),
        discount=float(discount.quantize(CENT)),
        tax=float(tax),
        total=float((taxable + tax).quantize(CENT)),
    )


def new_order_id() -> str:
    return f"o-{secrets.token_hex(6)}"
