"""Attribution on synthetic call graphs: who is the victim, who is the root, and why."""

from __future__ import annotations

from anomaly_service.attribution import (
    Attribution,
    AttributionConfig,
    EdgeSample,
    ServiceHealth,
    attribute,
)
from anomaly_service.callgraph import CallGraph

T0 = 1_000.0


def graph_of(*edges: tuple[str, str], now: float = T0) -> CallGraph:
    graph = CallGraph()
    graph.observe(now, [EdgeSample(a, b, calls=5.0) for a, b in edges])
    return graph


def run(
    health: list[ServiceHealth], graph: CallGraph, samples: list[EdgeSample]
) -> dict[str, Attribution]:
    return attribute({h.service: h for h in health}, graph, samples)


def test_callee_errors_make_the_caller_a_victim_with_evidence() -> None:
    graph = graph_of(("orders", "users"), ("orders", "payments"))
    result = run(
        [
            ServiceHealth("orders", {"error_rate": T0 + 5}),
            ServiceHealth("payments", {"error_rate": T0}),
            ServiceHealth("users"),
        ],
        graph,
        [
            EdgeSample("orders", "payments", calls=6.0, failures=3.6),
            EdgeSample("orders", "users", calls=6.0),
        ],
    )
    orders = result["orders"]
    assert orders.caused_by_dependency
    assert orders.root_causes == ("payments",)
    (cause,) = orders.caused_by
    assert (cause.callee, cause.signal, cause.callee_state) == (
        "payments",
        "edge_failures",
        "anomalous",
    )
    assert abs(cause.value - 0.6) < 1e-9
    assert cause.opened_first == "callee"
    assert not result["payments"].caused_by_dependency
    assert result["payments"].root_causes == ()
    assert not result["users"].caused_by_dependency
    assert orders.to_dict()["caused_by"] == ["payments"]


def test_edge_failures_explain_the_callers_errors_while_both_ramp_up() -> None:
    """At the caller's anomaly's first point its error ratio is still low, and so is the edge's:
    the edge explains it if it accounts for at least half of it."""
    health = [
        ServiceHealth("orders", {"error_rate": T0}, error_rate=0.12),
        ServiceHealth("payments"),
    ]
    graph = graph_of(("orders", "payments"))
    ramping = run(health, graph, [EdgeSample("orders", "payments", calls=6.0, failures=0.66)])
    assert [c.callee for c in ramping["orders"].caused_by] == ["payments"]
    # The caller fails far more than its calls do: its own fault, the callee's 2 % is noise-ish.
    own = [ServiceHealth("orders", {"error_rate": T0}, error_rate=0.6), ServiceHealth("payments")]
    noise = run(own, graph, [EdgeSample("orders", "payments", calls=6.0, failures=0.66)])
    assert not noise["orders"].caused_by_dependency


def test_callee_failing_before_its_own_anomaly_opens_still_explains_the_caller() -> None:
    """The caller's anomaly may open a cycle before the callee's: the edge itself shows it."""
    result = run(
        [ServiceHealth("orders", {"error_rate": T0}), ServiceHealth("payments")],
        graph_of(("orders", "payments")),
        [EdgeSample("orders", "payments", calls=6.0, failures=4.0)],
    )
    (cause,) = result["orders"].caused_by
    assert cause.callee_state == "failing_its_callers"
    assert cause.opened_first == "unknown"


def test_a_hung_callee_times_out_its_callers_calls() -> None:
    result = run(
        [
            ServiceHealth("orders", {"latency": T0 + 6, "error_rate": T0 + 8}, latency=5.0),
            ServiceHealth("users", {}, down=True),
            ServiceHealth("payments"),
        ],
        graph_of(("orders", "users"), ("orders", "payments")),
        [
            EdgeSample("orders", "users", calls=2.0, failures=2.0, timeouts=2.0),
            EdgeSample("orders", "payments", calls=0.4, p99=0.02),
        ],
    )
    (cause,) = result["orders"].caused_by
    assert (cause.callee, cause.signal, cause.callee_state) == ("users", "edge_timeouts", "down")
    assert result["users"].root_causes == ()
    assert not result["users"].caused_by_dependency


def test_slow_callee_explains_caller_latency_only_when_it_dominates() -> None:
    health = [
        ServiceHealth("orders", {"latency": T0 + 5}, latency=0.9),
        ServiceHealth("users", {"latency": T0}, latency=0.8),
    ]
    graph = graph_of(("orders", "users"))
    slow = run(health, graph, [EdgeSample("orders", "users", calls=5.0, p99=0.82)])
    assert [c.signal for c in slow["orders"].caused_by] == ["edge_latency"]
    # The callee is slow too, but the caller's time goes elsewhere: no blame.
    fast = run(health, graph, [EdgeSample("orders", "users", calls=5.0, p99=0.1)])
    assert not fast["orders"].caused_by_dependency


def test_own_fault_is_never_suppressed() -> None:
    """orders' own latency fault: its calls are fine, so orders is the root and acts."""
    result = run(
        [ServiceHealth("orders", {"latency": T0}, latency=0.8), ServiceHealth("users")],
        graph_of(("orders", "users")),
        [EdgeSample("orders", "users", calls=5.0, p99=0.02)],
    )
    assert not result["orders"].caused_by_dependency
    # A healthy callee is never blamed, even if the caller's errors are high.
    errors = run(
        [ServiceHealth("orders", {"error_rate": T0}), ServiceHealth("users")],
        graph_of(("orders", "users")),
        [EdgeSample("orders", "users", calls=5.0, failures=0.1)],
    )
    assert not errors["orders"].caused_by_dependency


def test_non_propagating_signals_are_the_callers_own() -> None:
    result = run(
        [ServiceHealth("orders", {"cpu": T0, "memory": T0}), ServiceHealth("users", {}, down=True)],
        graph_of(("orders", "users")),
        [EdgeSample("orders", "users", calls=5.0, failures=5.0, timeouts=5.0)],
    )
    assert not result["orders"].caused_by_dependency


def test_chain_names_the_far_end_as_root() -> None:
    graph = graph_of(("gateway", "orders"), ("orders", "payments"))
    result = run(
        [
            ServiceHealth("gateway", {"error_rate": T0 + 10}),
            ServiceHealth("orders", {"error_rate": T0 + 5}),
            ServiceHealth("payments", {"error_rate": T0}),
        ],
        graph,
        [
            EdgeSample("gateway", "orders", calls=5.0, failures=3.0),
            EdgeSample("orders", "payments", calls=5.0, failures=3.0),
        ],
    )
    assert [c.callee for c in result["gateway"].caused_by] == ["orders"]
    assert result["gateway"].root_causes == ("payments",)
    assert result["orders"].root_causes == ("payments",)
    assert result["payments"].root_causes == ()


def test_fan_in_two_callers_one_culprit() -> None:
    graph = graph_of(("orders", "users"), ("billing", "users"))
    result = run(
        [
            ServiceHealth("orders", {"error_rate": T0 + 5}),
            ServiceHealth("billing", {"error_rate": T0 + 5}),
            ServiceHealth("users", {"error_rate": T0}),
        ],
        graph,
        [
            EdgeSample("orders", "users", calls=5.0, failures=5.0),
            EdgeSample("billing", "users", calls=1.0, failures=0.5),
        ],
    )
    assert result["orders"].root_causes == ("users",) == result["billing"].root_causes


def test_two_roots_both_named() -> None:
    graph = graph_of(("orders", "users"), ("orders", "payments"))
    result = run(
        [
            ServiceHealth("orders", {"error_rate": T0 + 5}),
            ServiceHealth("users", {"error_rate": T0}),
            ServiceHealth("payments", {}, down=True),
        ],
        graph,
        [
            EdgeSample("orders", "users", calls=5.0, failures=2.0),
            EdgeSample("orders", "payments", calls=5.0, failures=5.0),
        ],
    )
    assert sorted(c.callee for c in result["orders"].caused_by) == ["payments", "users"]
    assert result["orders"].root_causes == ("payments", "users")


def test_mutual_blame_goes_to_whoever_opened_first_and_never_loops() -> None:
    graph = graph_of(("a", "b"), ("b", "a"))
    samples = [
        EdgeSample("a", "b", calls=5.0, failures=5.0),
        EdgeSample("b", "a", calls=5.0, failures=5.0),
    ]
    first_b = run(
        [ServiceHealth("a", {"error_rate": T0 + 5}), ServiceHealth("b", {"error_rate": T0})],
        graph,
        samples,
    )
    assert first_b["a"].root_causes == ("b",)
    assert not first_b["b"].caused_by_dependency
    together = run(
        [ServiceHealth("a", {"error_rate": T0}), ServiceHealth("b", {"error_rate": T0})],
        graph,
        samples,
    )
    assert not together["a"].caused_by_dependency
    assert not together["b"].caused_by_dependency


def test_a_longer_cycle_breaks_where_the_trouble_started() -> None:
    graph = graph_of(("a", "b"), ("b", "c"), ("c", "a"))
    samples = [
        EdgeSample("a", "b", calls=1.0, failures=1.0),
        EdgeSample("b", "c", calls=1.0, failures=1.0),
        EdgeSample("c", "a", calls=1.0, failures=1.0),
    ]
    together = run([ServiceHealth(n, {"error_rate": T0}) for n in "abc"], graph, samples)
    assert not any(r.caused_by_dependency for r in together.values())
    staggered = run(
        [
            ServiceHealth("a", {"error_rate": T0}),
            ServiceHealth("b", {"error_rate": T0 + 5}),
            ServiceHealth("c", {"error_rate": T0 + 10}),
        ],
        graph,
        samples,
    )
    assert [c.callee for c in staggered["c"].caused_by] == ["a"]
    assert staggered["c"].root_causes == ("a",)
    assert not staggered["a"].caused_by_dependency
    assert not staggered["b"].caused_by_dependency


def test_missing_edge_data_is_no_evidence_and_no_crash() -> None:
    graph = graph_of(("orders", "users"))
    result = run(
        [ServiceHealth("orders", {"error_rate": T0}), ServiceHealth("users", {}, down=True)],
        graph,
        [],  # the edge's series are missing this cycle
    )
    assert not result["orders"].caused_by_dependency
    idle = run(
        [ServiceHealth("orders", {"error_rate": T0}), ServiceHealth("users", {}, down=True)],
        graph,
        [EdgeSample("orders", "users", calls=0.0)],
    )
    assert not idle["orders"].caused_by_dependency
    assert attribute({}, graph, []) == {}


def test_callee_with_no_metrics_at_all_is_blamed_by_its_callers_edge() -> None:
    """payments gone entirely (no series, no health row): orders' connection errors show it."""
    result = run(
        [ServiceHealth("orders", {"error_rate": T0})],
        graph_of(("orders", "payments")),
        [EdgeSample("orders", "payments", calls=4.0, failures=4.0)],
    )
    (cause,) = result["orders"].caused_by
    assert cause.callee == "payments"
    assert cause.callee_state == "failing_its_callers"
    assert result["orders"].root_causes == ("payments",)


def test_edges_appear_with_calls_and_age_out() -> None:
    graph = CallGraph(ttl_s=60)
    graph.observe(T0, [EdgeSample("orders", "users", calls=1.0), EdgeSample("x", "x", calls=1.0)])
    graph.observe(T0, [EdgeSample("orders", "payments", calls=0.0)])
    assert graph.edges() == {("orders", "users")}  # no self-edges, no zero-call edges
    graph.observe(T0 + 30, [EdgeSample("orders", "payments", calls=2.0)])
    assert graph.callees("orders") == ["payments", "users"]
    graph.observe(T0 + 61, [])
    assert graph.edges() == {("orders", "payments")}
    graph.observe(T0 + 200, [])
    assert graph.edges() == set()


def test_an_edge_not_in_the_graph_is_not_evidence() -> None:
    """A sample below the graph's notice (never observed) cannot blame a service."""
    result = run(
        [ServiceHealth("orders", {"error_rate": T0}), ServiceHealth("users", {}, down=True)],
        CallGraph(),
        [EdgeSample("orders", "users", calls=5.0, failures=5.0)],
    )
    assert not result["orders"].caused_by_dependency


def test_thresholds_are_settings() -> None:
    strict = AttributionConfig(failure_ratio=0.9)
    health = {
        "orders": ServiceHealth("orders", {"error_rate": T0}),
        "payments": ServiceHealth("payments"),
    }
    samples = [EdgeSample("orders", "payments", calls=5.0, failures=2.5)]
    graph = graph_of(("orders", "payments"))
    assert attribute(health, graph, samples)["orders"].caused_by_dependency
    assert not attribute(health, graph, samples, strict)["orders"].caused_by_dependency


def learned_graph(normal_p99: float, cycles: int = 6) -> CallGraph:
    """orders -> users with `cycles` normal samples of the edge's p99 learned."""
    graph = graph_of(("orders", "users"))
    for _ in range(cycles):
        graph.learn_p99([EdgeSample("orders", "users", calls=5.0, p99=normal_p99)], CONFIG)
    return graph


CONFIG = AttributionConfig()


def test_a_callee_slow_for_its_callers_explains_them_before_its_own_anomaly_opens() -> None:
    """The caller's scrape came first: its latency anomaly is open, the callee's is not yet,
    but the edge is far slower than its normal: the caller is a victim already."""
    health = [ServiceHealth("orders", {"latency": T0}, latency=0.9), ServiceHealth("users")]
    slow = [EdgeSample("orders", "users", calls=5.0, p99=0.85)]
    result = run(health, learned_graph(0.03), slow)
    cause = result["orders"].caused_by[0]
    assert (cause.callee, cause.signal, cause.callee_state) == (
        "users",
        "edge_latency",
        "slow_for_its_callers",
    )
    # Not learned yet (fewer than normal_min_samples): no such evidence.
    assert not run(health, learned_graph(0.03, cycles=5), slow)["orders"].caused_by_dependency


def test_an_edge_at_its_normal_or_slow_by_a_little_is_not_slow() -> None:
    graph = learned_graph(0.2)
    health = [ServiceHealth("orders", {"latency": T0}, latency=0.5), ServiceHealth("users")]
    # 0.45 s: more than half of orders' p99, but not 3x its normal: users is not in trouble
    usual = run(health, graph, [EdgeSample("orders", "users", calls=5.0, p99=0.45)])
    assert not usual["orders"].caused_by_dependency
    # 3x a tiny normal, yet only 20 ms above it: below slow_min_s
    tiny = learned_graph(0.01)
    quick = [EdgeSample("orders", "users", calls=5.0, p99=0.03)]
    fast_caller = [ServiceHealth("orders", {"latency": T0}, latency=0.05), ServiceHealth("users")]
    assert not run(fast_caller, tiny, quick)["orders"].caused_by_dependency


def test_slow_samples_are_not_learned_as_the_edges_normal() -> None:
    graph = learned_graph(0.03)
    slow = EdgeSample("orders", "users", calls=5.0, p99=0.9)
    for _ in range(50):
        graph.learn_p99([slow], CONFIG)
    assert graph.slow(slow, CONFIG)
    # an edge that ages out of the graph forgets its normal
    graph.observe(T0 + CONFIG.edge_ttl_s + 1, [])
    assert not graph.slow(slow, CONFIG)
