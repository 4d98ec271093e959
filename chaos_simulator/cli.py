"""The `chaos` command line (click). Each command builds typed plans, runs the async core once
and renders the result; exit codes: 0 ok, 1 target unreachable or refused, 2 usage, 3 a
scenario's loop did not close, 130 interrupted (after cleaning up). The commands live in
chaos_simulator/commands/ by job; what they share (options, error exits) in commands/common.py."""

from __future__ import annotations

import click

from chaos_simulator.commands.common import EXIT_INTERRUPTED, EXIT_NOT_CLOSED, EXIT_UNREACHABLE
from chaos_simulator.commands.faults import chaos_cmd, clear, inject
from chaos_simulator.commands.platform import health, status
from chaos_simulator.commands.scenario import scenario
from chaos_simulator.commands.traffic import load, spike, steady
from chaos_simulator.targets import (
    DEFAULT_ANOMALY_URL,
    DEFAULT_POLICY_URL,
    DEFAULT_URLS,
    Targets,
)

__all__ = ["EXIT_INTERRUPTED", "EXIT_NOT_CLOSED", "EXIT_UNREACHABLE", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--orders-url", envvar="ORDERS_URL", default=DEFAULT_URLS["orders"], show_default=True
)
@click.option("--users-url", envvar="USERS_URL", default=DEFAULT_URLS["users"], show_default=True)
@click.option(
    "--payments-url", envvar="PAYMENTS_URL", default=DEFAULT_URLS["payments"], show_default=True
)
@click.option(
    "--anomaly-url", envvar="ANOMALY_SERVICE_URL", default=DEFAULT_ANOMALY_URL, show_default=True
)
@click.option(
    "--policy-url", envvar="POLICY_ENGINE_URL", default=DEFAULT_POLICY_URL, show_default=True
)
@click.option("--policy-token", envvar="POLICY_ENGINE_TOKEN", default=None, show_default=False)
@click.pass_context
def main(
    ctx: click.Context,
    orders_url: str,
    users_url: str,
    payments_url: str,
    anomaly_url: str,
    policy_url: str,
    policy_token: str | None,
) -> None:
    """Drive Relia: traffic, faults, and closed-loop scenarios.

    Targets default to the compose stack on 127.0.0.1; the options (or their environment
    variables) point elsewhere.
    """
    ctx.obj = Targets(
        services={"orders": orders_url, "users": users_url, "payments": payments_url},
        anomaly_url=anomaly_url,
        policy_url=policy_url,
        policy_token=policy_token or None,
    )


for command in (health, load, steady, spike, chaos_cmd, inject, clear, status, scenario):
    main.add_command(command)
