"""Users domain: models and a bounded directory seeded with u-1..u-50. No I/O."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.store import BoundedStore

SEED_COUNT = 50
_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Barbara",
    "Edsger",
    "Frances",
    "Ken",
    "Margaret",
    "Linus",
    "Radia",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Liskov",
    "Dijkstra",
    "Allen",
    "Thompson",
    "Hamilton",
    "Torvalds",
    "Perlman",
]


# ASCII whitespace spelled out: Python's and JSON Schema's (ECMA) `\s` differ beyond ASCII, and
# the OpenAPI document must accept exactly what the model does.
EMAIL_PATTERN = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(min_length=3, max_length=200, pattern=EMAIL_PATTERN)]
    tier: Literal["standard", "gold"] = "standard"


class User(BaseModel):
    id: str
    name: str
    email: str
    tier: Literal["standard", "gold"]
    created_at: float


class Directory:
    """The user directory; seeded users are never evicted."""

    def __init__(self, max_items: int) -> None:
        self.store: BoundedStore[User] = BoundedStore(max(max_items, SEED_COUNT + 1))
        self._next = SEED_COUNT + 1
        now = time.time()
        for i in range(1, SEED_COUNT + 1):
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i * 7) % len(_LAST)]
            user = User(
                id=f"u-{i}",
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                tier="gold" if i % 10 == 0 else "standard",
                created_at=now,
            )
            self.store.put(user.id, user, pinned=True)

    def create(self, data: UserCreate, now: float) -> User:
        user = User(id=f"u-{self._next}", created_at=now, **data.model_dump())
        self._next += 1
        self.store.put(user.id, user)
        return user

    def get(self, user_id: str) -> User | None:
        return self.store.get(user_id)
