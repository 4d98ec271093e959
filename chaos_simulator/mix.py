"""Pure traffic mix: weighted real endpoints of the demo services and their request bodies."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SERVICES = ("orders", "users", "payments")
SEEDED_USERS = 50  # users u-1..u-50 exist in every fresh users process (contracts.md)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the mix; `name` labels it in the report."""

    name: str
    service: str
    method: str
    path: str
    weight: float
    basket: tuple[int, int] = (1, 3)  # items per order (orders.create only)


@dataclass(frozen=True)
class Request:
    endpoint: str
    service: str
    method: str
    path: str
    json: dict[str, Any] | None = None


# Weights follow a shop's read-heavy shape; order creation fans out to users and payments and
# carries the services' CPU cost (pricing, fraud score), so it dominates load on orders.
DEFAULT_MIX: tuple[Endpoint, ...] = (
    Endpoint("orders.create", "orders", "POST", "/orders", 3.0),
    Endpoint("orders.list", "orders", "GET", "/orders", 1.0),
    Endpoint("users.get", "users", "GET", "/users/{user_id}", 3.0),
    Endpoint("users.list", "users", "GET", "/users", 1.0),
    Endpoint("payments.authorize", "payments", "POST", "/payments/authorize", 2.0),
)

# CPU-bound overload, used by `spike` and the cpu-scale scenario: only the expensive call, and
# for orders big baskets, since pricing costs CPU per item in orders while the calls to users
# and payments cost the same per order: the load lands on orders, the service being scaled.
HEAVY_MIX: dict[str, tuple[Endpoint, ...]] = {
    "orders": (Endpoint("orders.create", "orders", "POST", "/orders", 1.0, (20, 30)),),
    "payments": (Endpoint("payments.authorize", "payments", "POST", "/payments/authorize", 1.0),),
    "users": (Endpoint("users.list", "users", "GET", "/users", 1.0),),
}


def select_mix(
    services: tuple[str, ...] | list[str] | None, heavy: bool = False
) -> tuple[Endpoint, ...]:
    """The endpoints for the chosen services (all when none given)."""
    chosen = tuple(services) if services else SERVICES
    unknown = [s for s in chosen if s not in SERVICES]
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    if heavy:
        return tuple(e for s in chosen for e in HEAVY_MIX[s])
    return tuple(e for e in DEFAULT_MIX if e.service in chosen)


class MixGenerator:
    """Draws requests from a weighted mix; seeded so a run can be repeated."""

    def __init__(self, mix: tuple[Endpoint, ...], seed: int | None = None) -> None:
        if not mix:
            raise ValueError("the traffic mix is empty")
        if any(e.weight <= 0 for e in mix):
            raise ValueError("mix weights must be positive")
        self.mix = mix
        self._weights = [e.weight for e in mix]
        self._rng = random.Random(seed)
        self._serial = 0

    def next(self) -> Request:
        endpoint = self._rng.choices(self.mix, weights=self._weights, k=1)[0]
        self._serial += 1
        return self._build(endpoint)

    def _customer(self) -> str:
        return f"u-{self._rng.randint(1, SEEDED_USERS)}"

    def _build(self, endpoint: Endpoint) -> Request:
        path = endpoint.path
        body: dict[str, Any] | None = None
        if "{user_id}" in path:
            path = path.replace("{user_id}", self._customer())
        if endpoint.name == "orders.create":
            items = [
                {
                    "sku": f"sku-{self._rng.randint(1, 200)}",
                    "qty": self._rng.randint(1, 5),
                    "unit_price": round(self._rng.uniform(1.0, 120.0), 2),
                }
                for _ in range(self._rng.randint(*endpoint.basket))
            ]
            body = {"customer_id": self._customer(), "items": items}
        elif endpoint.name == "payments.authorize":
            body = {
                "order_id": f"o-chaos-{self._serial}",
                "customer_id": self._customer(),
                "amount": round(self._rng.uniform(5.0, 500.0), 2),
            }
        return Request(endpoint.name, endpoint.service, endpoint.method, path, body)
