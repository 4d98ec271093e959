from collections import Counter

import pytest

from chaos_simulator.mix import DEFAULT_MIX, MixGenerator, select_mix


def test_select_mix_filters_by_service_and_rejects_unknown() -> None:
    assert {e.service for e in select_mix(None)} == {"orders", "users", "payments"}
    assert {e.service for e in select_mix(["users"])} == {"users"}
    assert [e.name for e in select_mix(["orders"], heavy=True)] == ["orders.create"]
    with pytest.raises(ValueError, match="unknown service"):
        select_mix(["billing"])


def test_generator_is_seeded_and_follows_weights() -> None:
    a = [MixGenerator(DEFAULT_MIX, seed=7).next() for _ in range(5)]
    b = [MixGenerator(DEFAULT_MIX, seed=7).next() for _ in range(5)]
    assert a == b
    gen = MixGenerator(DEFAULT_MIX, seed=1)
    counts = Counter(gen.next().endpoint for _ in range(10_000))
    total_weight = sum(e.weight for e in DEFAULT_MIX)
    for e in DEFAULT_MIX:
        expected = 10_000 * e.weight / total_weight
        assert abs(counts[e.name] - expected) < 0.15 * expected


def test_bodies_match_the_domain_contract() -> None:
    gen = MixGenerator(DEFAULT_MIX, seed=3)
    seen = set()
    for _ in range(500):
        req = gen.next()
        seen.add(req.endpoint)
        if req.endpoint == "orders.create":
            assert req.method == "POST"
            assert req.path == "/orders"
            assert req.json is not None
            assert req.json["customer_id"].startswith("u-")
            assert 1 <= int(req.json["customer_id"][2:]) <= 50
            assert all({"sku", "qty", "unit_price"} <= set(i) for i in req.json["items"])
        elif req.endpoint == "payments.authorize":
            assert req.json is not None
            assert set(req.json) == {"order_id", "customer_id", "amount"}
        elif req.endpoint == "users.get":
            assert req.path.startswith("/users/u-")
            assert req.json is None
        else:
            assert req.method == "GET"
            assert req.json is None
    assert seen == {e.name for e in DEFAULT_MIX}


def test_empty_or_bad_mix_is_rejected() -> None:
    with pytest.raises(ValueError, match="the traffic mix is empty"):
        MixGenerator(())
    with pytest.raises(ValueError, match="mix weights must be positive"):
        MixGenerator((DEFAULT_MIX[0].__class__("x", "orders", "GET", "/", 0.0),))


def test_heavy_orders_carry_big_baskets() -> None:
    gen = MixGenerator(select_mix(["orders"], heavy=True), seed=2)
    for _ in range(50):
        req = gen.next()
        assert req.endpoint == "orders.create"
        assert req.json is not None
        assert 20 <= len(req.json["items"]) <= 30  # within the service's limit of 50
