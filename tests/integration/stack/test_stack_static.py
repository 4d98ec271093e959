"""Static checks of the compose stack and its monitoring configuration.

Loki, Alloy, Jaeger and Grafana cannot run on a machine without a registry, so their files are
checked here for what can be checked without them: they parse, and they point at each other
with the right host names and uids. Prometheus and nginx configs are checked by the real
binaries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from policy_engine.policy_fields import parse_duration
from tests.support.prometheus import PrometheusServer
from tests.support.requirements import compose_available, require, require_amtool

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
OFFLINE_FILE = REPO / "docker-compose.offline.yml"
MONITORING = REPO / "monitoring"
GRAFANA = MONITORING / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

SCALABLE = ("orders", "users", "payments")
# What cannot be stood in without a registry (docs/stack.md).
UPSTREAM_ONLY = {"loki", "alloy", "jaeger", "grafana"}
CONTRACT_PORTS = {
    "dashboard": {3000},
    "grafana": {3001},
    "gateway": {8001, 8002, 8003},
    "anomaly-service": {8080},
    "policy-engine": {8081},
    "prometheus": {9090},
    "alertmanager": {9093},
    "loki": {3100},
    "jaeger": {16686},
}


def compose_config(*files: Path) -> dict[str, Any]:
    """The model as `docker compose config` resolves it (anchors, merges, overrides)."""
    require(compose_available(), "Docker Compose v2")
    args = ["docker", "compose"]
    for file in files:
        args += ["-f", str(file)]
    # The file as shipped: no variable a user (or the e2e fixture) set may change the model.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELIA_", "POLICY_ENGINE_"))}
    result = subprocess.run(
        [*args, "config", "--format", "json"], capture_output=True, text=True, timeout=60,
        cwd=REPO, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return compose_config(COMPOSE_FILE)


@pytest.fixture(scope="module")
def offline_stack() -> dict[str, Any]:
    return compose_config(COMPOSE_FILE, OFFLINE_FILE)


def services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(model["services"])


# --- compose ---------------------------------------------------------------------------------


def test_compose_project_name_is_fixed(stack: dict[str, Any]) -> None:
    assert stack["name"] == "relia"


def test_every_contract_service_is_defined(stack: dict[str, Any]) -> None:
    expected = {
        "orders", "users", "payments", "gateway", "anomaly-service", "policy-engine",
        "dashboard", "prometheus", "blackbox", "alertmanager", "loki", "alloy", "jaeger",
        "grafana",
    }  # fmt: skip
    assert set(services(stack)) == expected


def test_published_ports_are_loopback_only_and_match_the_contract(stack: dict[str, Any]) -> None:
    for name, svc in services(stack).items():
        published = set()
        for port in svc.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            published.add(int(port["published"]))
        assert published == CONTRACT_PORTS.get(name, set()), name


def test_every_service_has_healthcheck_memory_limit_and_bounded_logs(
    stack: dict[str, Any],
) -> None:
    for name, svc in services(stack).items():
        health = svc.get("healthcheck") or {}
        assert health.get("test"), f"{name}: no healthcheck"
        assert not health.get("disable"), f"{name}: no healthcheck"
        limit = svc.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit, f"{name}: memory limit {limit!r}"
        assert int(limit) <= 1024**3, f"{name}: memory limit {limit!r}"
        logging = svc.get("logging") or {}
        assert logging.get("driver") == "json-file", name
        options = logging.get("options") or {}
        assert options.get("max-size"), f"{name}: unbounded logs"
        assert options.get("max-file"), f"{name}: unbounded logs"
        assert svc.get("restart") == "unless-stopped", name


def test_images_are_pinned(stack: dict[str, Any]) -> None:
    for name, svc in services(stack).items():
        image = svc["image"]
        if "build" in svc:
            assert image.startswith("relia-"), f"{name}: built image should be relia-*: {image}"
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert tag, f"{name}: unpinned {image}"
        assert tag != "latest", f"{name}: unpinned {image}"
        assert re.search(r"\d", tag), f"{name}: unpinned {image}"


def test_the_deepest_health_chain_leaves_make_up_under_its_bar(
    offline_stack: dict[str, Any],
) -> None:
    """depends_on waits for health, and Docker 20.10 runs a container's first check one interval
    after its start: the intervals along the deepest chain are the floor of `make up` (SPEC:
    < 20 s to all healthy; at 5 s a step it took 19 s)."""
    svcs = services(offline_stack)

    def floor_s(name: str, seen: tuple[str, ...] = ()) -> float:
        assert name not in seen, f"depends_on cycle through {name}"
        deps = svcs[name].get("depends_on") or {}
        own = parse_duration(svcs[name]["healthcheck"]["interval"])
        return own + max((floor_s(dep, (*seen, name)) for dep in deps), default=0.0)

    floors = {name: floor_s(name) for name in svcs}
    slowest = max(floors, key=floors.__getitem__)
    assert floors[slowest] <= 6.0, f"{slowest}: {floors[slowest]} s of first checks in a row"


def test_depends_on_waits_for_health(stack: dict[str, Any]) -> None:
    for name, svc in services(stack).items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert spec["condition"] == "service_healthy", f"{name} -> {dep}"
            assert "healthcheck" in services(stack)[dep], dep


def test_scalable_services_carry_scrape_and_remediation_labels(stack: dict[str, Any]) -> None:
    for name in SCALABLE:
        svc = services(stack)[name]
        assert "container_name" not in svc, name
        assert not svc.get("ports"), f"{name} must not publish a host port (the gateway does)"
        labels = svc["labels"]
        assert labels["relia.scrape"] == "true"
        assert labels["relia.metrics-port"] == "8000"
        assert labels["relia.remediation"] == "enabled"
        assert svc["environment"]["SERVICE_NAME"] == name
        assert svc["environment"]["PORT"] == "8000"


def test_nothing_outside_the_demo_services_opts_in_to_remediation(stack: dict[str, Any]) -> None:
    for name, svc in services(stack).items():
        if name not in SCALABLE:
            assert "relia.remediation" not in (svc.get("labels") or {}), name


def test_docker_socket_reaches_only_what_needs_it(stack: dict[str, Any]) -> None:
    with_socket = {
        name for name, svc in services(stack).items()
        if any(v.get("source") == "/var/run/docker.sock" for v in svc.get("volumes", []))
    }  # fmt: skip
    assert with_socket == {"policy-engine", "prometheus", "alloy"}
    for name in ("prometheus", "alloy"):  # discovery only: read-only mount
        mount = next(
            v for v in services(stack)[name]["volumes"] if v["source"] == "/var/run/docker.sock"
        )
        assert mount.get("read_only") is True, name


def test_platform_images_share_one_recipe_with_consistent_build_args(
    stack: dict[str, Any],
) -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    built = {
        name: svc["build"] for name, svc in services(stack).items()
        if svc.get("build", {}).get("dockerfile") == "component.Dockerfile"
    }  # fmt: skip
    assert set(built) == {"anomaly-service", "policy-engine", "dashboard"}
    for name, build in built.items():
        args = build["args"]
        assert (REPO / args["COMPONENT"] / "__main__.py").is_file(), name
        assert args["EXTRA"] in extras, name
        svc = services(stack)[name]
        assert args["PORT"] == svc["environment"]["PORT"], name
        assert {int(args["PORT"])} == {p["target"] for p in svc["ports"]}, name
        # Only the container that drives the Docker socket runs as root.
        assert (args.get("RUN_AS") == "root") == (name == "policy-engine"), name


def test_named_volumes_hold_the_state(stack: dict[str, Any]) -> None:
    expected = {
        "prometheus": "/prometheus", "loki": "/loki", "grafana": "/var/lib/grafana",
        "policy-engine": "/var/lib/relia",
    }  # fmt: skip
    for name, target in expected.items():
        mounts = services(stack)[name]["volumes"]
        assert any(m["type"] == "volume" and m["target"] == target for m in mounts), name


def test_policies_file_is_bind_mounted_for_live_edits(stack: dict[str, Any]) -> None:
    engine = services(stack)["policy-engine"]
    policies = engine["environment"]["POLICIES_FILE"]
    mount = next(
        m
        for m in engine["volumes"]
        if m["type"] == "bind" and m["target"] != "/var/run/docker.sock"
    )
    assert Path(mount["source"]) == REPO / "policy_engine"
    assert policies == mount["target"] + "/policies.yml"
    assert engine["environment"]["COMPOSE_PROJECT"] == "relia"


def test_offline_variant_drops_only_upstream_only_images(
    stack: dict[str, Any],
    offline_stack: dict[str, Any],
) -> None:
    enabled = set(services(offline_stack))
    assert enabled == set(services(stack)) - UPSTREAM_ONLY
    for name, svc in services(offline_stack).items():
        assert not set(svc.get("depends_on") or {}) & UPSTREAM_ONLY, name
    for name in SCALABLE:
        assert services(offline_stack)[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""
        assert services(stack)[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
            "http://alloy:4318"
        )


def test_stand_in_tags_match_the_compose_images(stack: dict[str, Any]) -> None:
    script = (REPO / "scripts" / "offline-images.sh").read_text()
    images = {svc["image"] for svc in services(stack).values()}
    for var in ("PROMETHEUS_TAG", "GATEWAY_TAG", "BLACKBOX_TAG", "ALERTMANAGER_TAG"):
        match = re.search(rf"^{var}=\$\{{{var}:-([^}}]+)\}}", script, re.M)
        assert match, var
        assert match.group(1) in images, f"{var}={match.group(1)} not used by docker-compose.yml"
    # No registry host name written in the repository: the mirror comes from /etc/apt.
    assert "deb.debian.org" not in script


# --- Alertmanager ----------------------------------------------------------------------------

AM_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"


def amtool_check(config: Path) -> str:
    require_amtool()
    result = subprocess.run(
        ["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_amtool_accepts_the_shipped_config_and_its_commented_examples(tmp_path: Path) -> None:
    assert "2 receivers" in amtool_check(AM_CONFIG)
    # the Slack and PagerDuty examples (lines marked `#:`) are valid once enabled
    enabled = re.sub(r"^( *)#: ?", r"\1", AM_CONFIG.read_text(), flags=re.M)
    examples = tmp_path / "alertmanager.yml"
    examples.write_text(enabled)
    out = amtool_check(examples)
    assert "4 receivers" in out
    receivers = {r["name"]: r for r in yaml.safe_load(enabled)["receivers"]}
    assert receivers["slack-oncall"]["slack_configs"][0]["api_url_file"]
    assert receivers["pagerduty-oncall"]["pagerduty_configs"][0]["routing_key"]


def test_alertmanager_routes_external_alerts_in_and_relias_own_alerts_locally(
    stack: dict[str, Any],
) -> None:
    config = yaml.safe_load(AM_CONFIG.read_text())
    route = config["route"]
    receivers = {r["name"]: r for r in config["receivers"]}
    # default: the policy engine's webhook, with resolves (they complete verification)
    hook = receivers[route["receiver"]]["webhook_configs"][0]
    assert hook["url"] == "http://policy-engine:8081/alerts"
    assert hook["send_resolved"] is True
    # Relia's own alerts (relia_kind) never route back to the engine: a local receiver
    own = route["routes"][0]
    assert own["matchers"] == ['relia_kind=~".+"']
    assert own.get("continue") is not True
    assert set(receivers[own["receiver"]]) == {"name"}
    engine_env = services(stack)["policy-engine"]["environment"]
    assert engine_env["ALERTMANAGER_URL"] == "http://alertmanager:9093"
    prometheus = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    targets = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    command = services(stack)["alertmanager"]["command"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in command


# --- gateway ---------------------------------------------------------------------------------


def test_gateway_routes_each_port_to_its_service_through_docker_dns() -> None:
    conf = (REPO / "gateway" / "nginx.conf").read_text()
    assert re.search(r"resolver\s+127\.0\.0\.11\s+valid=\d+s", conf)
    routes = dict(re.findall(r"listen (\d+);\s+set \$relia_upstream (\w+);", conf))
    assert routes == {"8001": "orders", "8002": "users", "8003": "payments"}
    # A literal host in proxy_pass would be resolved once at start: it must be the variable.
    assert set(re.findall(r"proxy_pass ([^;]+);", conf)) == {"http://$relia_upstream:8000"}


@pytest.mark.docker
def test_gateway_config_passes_nginx_t(stack: dict[str, Any]) -> None:
    image = services(stack)["gateway"]["image"]
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        require(False, f"the gateway image {image} (scripts/offline-images.sh gateway)")
    conf = REPO / "gateway" / "nginx.conf"
    result = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{conf}:/etc/nginx/nginx.conf:ro", image, "nginx", "-t"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# --- Prometheus ------------------------------------------------------------------------------


def promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, "promtool")
    assert path is not None
    return path


@pytest.mark.prometheus
def test_promtool_accepts_the_prometheus_config() -> None:
    config = MONITORING / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        [promtool(), "check", "config", "--syntax-only", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for rules in sorted((MONITORING / "prometheus").glob("*rules*.yml")):
        result = subprocess.run(
            [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_discovers_the_services_with_their_service_label() -> None:
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "5s"
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "services")
    sd = job["docker_sd_configs"][0]
    assert sd["host"] == "unix:///var/run/docker.sock"
    filters = {v for f in sd["filters"] for v in f["values"]}
    assert {"com.docker.compose.project=relia", "relia.scrape=true"} <= filters
    relabels = {r.get("target_label"): r for r in job["relabel_configs"]}
    assert relabels["service"]["source_labels"] == [
        "__meta_docker_container_label_com_docker_compose_service"
    ]
    assert relabels["__address__"]["source_labels"] == [
        "__meta_docker_network_ip", "__meta_docker_container_label_relia_metrics_port",
    ]  # fmt: skip


def test_every_service_has_a_synthetic_probe_of_a_domain_endpoint(stack: dict[str, Any]) -> None:
    """One probe per demo service, through its compose DNS name and a module the exporter has,
    never /health (a hung service still answers it)."""
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "probes")
    modules = yaml.safe_load((MONITORING / "blackbox" / "blackbox.yml").read_text())["modules"]
    probed: dict[str, str] = {}
    for group in job["static_configs"]:
        (target,) = group["targets"]
        name = group["labels"]["service"]
        assert target.startswith(f"http://{name}:8000/"), target
        assert not target.endswith(("/health", "/ready")), target
        assert group["labels"]["__param_module"] in modules, group
        probed[name] = target
    assert set(probed) == set(SCALABLE)
    addresses = [
        r["replacement"] for r in job["relabel_configs"] if r.get("target_label") == "__address__"
    ]
    assert addresses == ["blackbox:9115"]
    assert "blackbox" in services(stack)
    assert all(m["timeout"] == "2s" for m in modules.values())  # below the 4 s scrape timeout


# --- Grafana ---------------------------------------------------------------------------------


def datasource_uids() -> dict[str, str]:
    uids: dict[str, str] = {}
    for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.yml")):
        for ds in yaml.safe_load(path.read_text())["datasources"]:
            uids[ds["uid"]] = ds["type"]
    return uids


def walk_datasources(node: Any) -> list[dict[str, Any]]:
    """Every `datasource` object in a dashboard (panels, targets, annotations, variables)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                found.append(value)
            else:
                found.extend(walk_datasources(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(walk_datasources(item))
    return found


def test_datasources_have_fixed_uids_and_link_to_each_other() -> None:
    uids = datasource_uids()
    assert uids == {
        "relia-prometheus": "prometheus",
        "relia-loki": "loki",
        "relia-jaeger": "jaeger",
    }
    (path,) = (GRAFANA / "provisioning" / "datasources").glob("*.yml")
    by_uid = {ds["uid"]: ds for ds in yaml.safe_load(path.read_text())["datasources"]}
    hosts = {uid: ds["url"] for uid, ds in by_uid.items()}
    assert hosts == {
        "relia-prometheus": "http://prometheus:9090", "relia-loki": "http://loki:3100",
        "relia-jaeger": "http://jaeger:16686",
    }  # fmt: skip
    # exemplars -> Jaeger; trace id in logs -> Jaeger; traces -> logs
    exemplar = by_uid["relia-prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert {d["datasourceUid"] for d in exemplar} == {"relia-jaeger"}
    derived = by_uid["relia-loki"]["jsonData"]["derivedFields"]
    assert derived
    assert {d["datasourceUid"] for d in derived} == {"relia-jaeger"}
    assert any(d.get("matcherType") == "label" and d["matcherRegex"] == "trace_id" for d in derived)
    assert by_uid["relia-jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "relia-loki"


def test_dashboards_parse_and_every_datasource_uid_exists() -> None:
    assert DASHBOARDS, "no provisioned dashboard"
    uids = datasource_uids()
    builtin = {"-- Grafana --", "grafana"}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        refs = walk_datasources(dashboard)
        assert refs, path
        for ref in refs:
            if ref.get("uid") in builtin:
                continue
            assert ref.get("uid") in uids, f"{path.name}: unknown datasource {ref}"
            assert ref.get("type") == uids[ref["uid"]], f"{path.name}: {ref}"
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel.get("targets"), f"{path.name}: panel {panel['title']} has no query"


def test_dashboard_covers_rate_errors_p99_replicas_anomalies_and_actions() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "relia-overview.json").read_text())
    exprs = " ".join(t.get("expr", "") for p in dashboard["panels"] for t in p.get("targets", []))
    assert "http_server_request_duration_seconds_count" in exprs  # rate
    assert 'status_code=~"5.."' in exprs  # errors
    assert "histogram_quantile(0.99" in exprs  # p99
    assert 'up{job="services"' in exprs  # replicas
    assert "relia_anomaly_active_anomalies" in exprs
    assert "severity" in exprs
    annotations = dashboard["annotations"]["list"]
    assert any("policy_engine_actions_total" in a.get("expr", "") for a in annotations)


@pytest.mark.prometheus
def test_dashboard_and_annotation_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every query is sent to a real Prometheus: a syntax error answers 400."""
    dashboard = json.loads((GRAFANA / "dashboards" / "relia-overview.json").read_text())
    exprs = [
        t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])
        if t.get("datasource", {}).get("uid") == "relia-prometheus"
    ] + [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]  # fmt: skip
    server = PrometheusServer(tmp_path, targets=[]).start()
    try:
        for expr in exprs:
            expr = expr.replace("$__rate_interval", "1m").replace("$service", ".*")
            response = httpx.get(server.url + "/api/v1/query", params={"query": expr}, timeout=5)
            assert response.status_code == 200, f"{expr}: {response.text}"
    finally:
        server.stop()


# --- Loki and Alloy --------------------------------------------------------------------------


def test_loki_config_keeps_structured_metadata() -> None:
    config = yaml.safe_load((MONITORING / "loki" / "loki.yml").read_text())
    assert config["server"]["http_listen_port"] == 3100
    schema = config["schema_config"]["configs"][-1]
    assert schema["store"] == "tsdb"
    assert schema["schema"] == "v13"
    assert config["limits_config"]["allow_structured_metadata"] is True


def alloy_blocks(text: str) -> list[str]:
    """Top-level component headers; also checks braces and strings are balanced."""
    depth, headers, in_string, i = 0, [], False, 0
    code = "\n".join(
        line.split("//", 1)[0] if '"' not in line else line for line in text.splitlines()
    )
    start = 0
    while i < len(code):
        ch = code[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            if depth == 0:
                headers.append(code[start:i].strip().splitlines()[-1].strip())
            depth += 1
        elif ch == "}":
            depth -= 1
            assert depth >= 0, f"unbalanced '}}' at offset {i}"
            if depth == 0:
                start = i + 1
        i += 1
    assert depth == 0, "unbalanced braces or string"
    assert not in_string, "unbalanced braces or string"
    return headers


def test_alloy_config_is_balanced_and_wires_logs_to_loki_and_traces_to_jaeger() -> None:
    text = (MONITORING / "alloy" / "config.alloy").read_text()
    headers = alloy_blocks(text)
    components = {h.split('"')[0].strip() for h in headers}
    assert {
        "discovery.docker", "loki.source.docker", "loki.process", "loki.write",
        "otelcol.receiver.otlp", "otelcol.exporter.otlp",
    } <= components  # fmt: skip
    assert '"http://loki:3100/loki/api/v1/push"' in text
    assert '"jaeger:4317"' in text
    assert '"unix:///var/run/docker.sock"' in text
    assert re.search(r"stage\.structured_metadata\s*\{[^}]*trace_id", text, re.S)
    # Every reference `a.b.LABEL.x` names a component defined in the file.
    defined = {h.replace('"', "").replace(" ", ".") for h in headers}
    for ref in re.findall(
        r"=\s*\[?([a-z]+\.[a-z_.]+\.[a-z_]+)\.(?:receiver|input|output|targets)", text
    ):
        assert ref in defined, f"reference to undefined component {ref}"


def test_alloy_and_services_agree_on_the_otlp_endpoint(stack: dict[str, Any]) -> None:
    text = (MONITORING / "alloy" / "config.alloy").read_text()
    assert '"0.0.0.0:4318"' in text
    for name in SCALABLE:
        assert services(stack)[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(
            "alloy:4318"
        )
