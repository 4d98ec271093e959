"""`chaos scenario --service` picks the scenario's target; a bad name is a usage error."""

from __future__ import annotations

from click.testing import CliRunner

from chaos_simulator.cli import main


def test_scenario_service_option_rejects_unknown_services() -> None:
    result = CliRunner().invoke(main, ["scenario", "latency-restart", "--service", "billing"])
    assert result.exit_code == 2
    assert "billing" in result.output
    assert "orders" in result.output


def test_scenario_help_lists_the_service_option() -> None:
    result = CliRunner().invoke(main, ["scenario", "--help"])
    assert result.exit_code == 0
    assert "--service" in result.output
