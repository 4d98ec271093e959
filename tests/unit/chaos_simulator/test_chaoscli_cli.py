"""CLI argument handling that needs no network: bad input gets a clear error and exit 2."""

from click.testing import CliRunner

from chaos_simulator.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in (
        "health",
        "load",
        "spike",
        "chaos",
        "steady",
        "inject",
        "clear",
        "status",
        "scenario",
    ):
        assert command in result.output


def test_inject_refuses_bad_parameters_before_any_request() -> None:
    # The URL is unroutable on purpose: a request would fail differently (exit 1).
    base = ("--orders-url", "http://127.0.0.1:9")
    result = invoke(*base, "inject", "orders", "latency")
    assert result.exit_code == 2
    assert "--ms is required" in result.output
    result = invoke(*base, "inject", "orders", "errors", "--rate", "2")
    assert result.exit_code == 2
    assert "rate must be <= 1" in result.output
    result = invoke(*base, "inject", "orders", "teleport")
    assert result.exit_code == 2
    result = invoke(*base, "inject", "billing", "latency", "--ms", "5")
    assert result.exit_code == 2


def test_traffic_commands_refuse_bad_plans() -> None:
    assert invoke("load", "--duration", "0").exit_code == 2
    assert invoke("load", "--concurrency", "0").exit_code == 2
    assert invoke("load", "--service", "billing").exit_code == 2
    result = invoke("scenario", "no-such-scenario")
    assert result.exit_code == 2
    result = invoke("scenario", "latency-restart", "--detect-timeout", "0")
    assert result.exit_code == 2
    assert "--detect-timeout" in result.output


def test_clear_by_id_needs_a_service() -> None:
    result = invoke("clear", "--id", "f-1")
    assert result.exit_code == 2
    assert "--id needs a SERVICE" in result.output
