"""Payments domain: a fraud score with a real CPU cost, and the payment ledger. No I/O."""

from __future__ import annotations

import hashlib
import math
import random
import secrets
import threading
from collections import deque
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.store import BoundedStore

FEATURES = 48
HIDDEN = 48


class AuthorizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    amount: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]


class Payment(BaseModel):
    payment_id: str
    order_id: str
    customer_id: str
    amount: float
    status: Literal["approved", "declined"]
    fraud_score: float
    created_at: float


class FraudModel:
    """A small dense network with fixed weights: the point is a realistic, measurable CPU cost
    (a few ms of pure-Python arithmetic per call), with a score driven by amount and velocity.
    """

    def __init__(self, rounds: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.rounds = rounds
        self.w1 = [[rng.gauss(0, 0.2) for _ in range(FEATURES)] for _ in range(HIDDEN)]
        self.w2 = [rng.gauss(0, 0.2) for _ in range(HIDDEN)]

    def features(self, req: AuthorizeRequest, recent: int) -> list[float]:
        digest = hashlib.sha256(f"{req.customer_id}|{req.order_id}".encode()).digest()
        base = [b / 255.0 for b in digest] + [0.0] * (FEATURES - len(digest))
        base[-1] = math.log1p(req.amount) / 14.0
        base[-2] = min(recent, 50) / 50.0
        return base[:FEATURES]

    def score(self, req: AuthorizeRequest, recent: int) -> float:
        x = self.features(req, recent)
        out = 0.0
        for _ in range(self.rounds):
            hidden = [max(0.0, sum(w * v for w, v in zip(row, x, strict=True))) for row in self.w1]
            out = sum(w * h for w, h in zip(self.w2, hidden, strict=True))
            # Feed back a little of the output: each round depends on the previous one.
            x = [v * 0.9 + out * 0.01 for v in x]
        learned = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, out))))
        amount_risk = req.amount / (req.amount + 50_000.0)
        velocity_risk = 0.4 if recent > 20 else 0.0
        return round(min(1.0, 0.1 * learned + 0.85 * amount_risk + velocity_risk), 4)


class Ledger:
    def __init__(self, max_items: int, rounds: int, decline_threshold: float) -> None:
        self.store: BoundedStore[Payment] = BoundedStore(max_items)
        self.model = FraudModel(rounds)
        self.threshold = decline_threshold
        # Recent authorizations per customer (timestamps), for the velocity feature.
        self._recent: dict[str, deque[float]] = {}
        # Handlers run in a thread pool: guard the shared state, not the (long) scoring.
        self._lock = threading.Lock()

    def _velocity(self, customer_id: str, now: float, window_s: float = 60.0) -> int:
        times = self._recent.setdefault(customer_id, deque(maxlen=100))
        while times and times[0] < now - window_s:
            times.popleft()
        count = len(times)
        times.append(now)
        if len(self._recent) > self.store.max_items:  # bounded like everything else
            self._recent.pop(next(iter(self._recent)))
        return count

    def authorize(self, req: AuthorizeRequest, now: float) -> Payment:
        with self._lock:
            recent = self._velocity(req.customer_id, now)
        score = self.model.score(req, recent)
        payment = Payment(
            payment_id=f"p-{secrets.token_hex(6)}",
            order_id=req.order_id,
            customer_id=req.customer_id,
            amount=req.amount,
            status="declined" if score >= self.threshold else "approved",
            fraud_score=score,
            created_at=now,
        )
        with self._lock:
            self.store.put(payment.payment_id, payment)
        return payment
