"""`python -m policy_engine` serves; `python -m policy_engine validate FILE` checks a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy_engine.policies import MAX_FILE_BYTES, load_policies


def validate(path: str) -> int:
    """Print OK with the version, or every error (the same messages the API shows); exit 0/1."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            print(f"{path}: file is larger than {MAX_FILE_BYTES} bytes", file=sys.stderr)
            return 1
        data = file.read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return 2
    active, errors = load_policies(data, path)
    if active is None:
        for error in errors:
            print(str(error), file=sys.stderr)
        print(f"{path}: INVALID ({len(errors)} error(s))", file=sys.stderr)
        return 1
    print(f"{path}: OK, {len(active.policies)} policies, version {active.version}")
    for policy in active.policies:
        extra = f" for {policy.for_s:g}s" if policy.for_s else ""
        state = "" if policy.enabled else " (disabled)"
        when = f"{policy.condition}{extra}"
        if policy.alert is not None:
            labels = ",".join(f"{k}={v}" for k, v in policy.alert.labels)
            when = f"alert {policy.alert.alertname or '*'}{{{labels}}} and {when}"
        print(f"  {policy.name}: {policy.service}: {when} -> {policy.action}{state}")
    for window in active.maintenance:
        print(f"  maintenance {window.name}: {', '.join(window.services)}")
    return 0


def serve() -> int:
    import uvicorn

    from policy_engine.actuator import DockerActuator, SwarmActuator
    from policy_engine.app import create_app
    from policy_engine.config import Settings
    from relia_web.logs import configure_logging

    configure_logging()
    settings = Settings()
    backend = SwarmActuator if settings.actuator_backend == "swarm" else DockerActuator
    actuator = backend(
        settings.compose_project,
        call_timeout_s=settings.docker_timeout_s,
        hostname=settings.hostname,
    )
    app = create_app(settings, actuator)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        actuator.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy_engine")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the API and control loop (default)")
    check = sub.add_parser("validate", help="check a policies file offline")
    check.add_argument("file")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return validate(args.file)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
