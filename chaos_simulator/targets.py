"""Where the CLI sends things: base URLs of the services and of the platform components."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_URLS = {
    "orders": "http://127.0.0.1:8001",
    "users": "http://127.0.0.1:8002",
    "payments": "http://127.0.0.1:8003",
}
DEFAULT_ANOMALY_URL = "http://127.0.0.1:8080"
DEFAULT_POLICY_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True)
class Targets:
    services: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_URLS))
    anomaly_url: str = DEFAULT_ANOMALY_URL
    policy_url: str = DEFAULT_POLICY_URL
    policy_token: str | None = None

    def service_url(self, service: str) -> str:
        try:
            return self.services[service].rstrip("/")
        except KeyError:
            known = ", ".join(self.services)
            raise ValueError(f"unknown service {service!r}; known: {known}") from None


class TargetUnreachable(Exception):
    """A target did not answer: the message says which, where, and what to check."""

    def __init__(self, name: str, url: str, reason: str) -> None:
        self.name = name
        self.url = url
        self.reason = reason
        super().__init__(f"{name} at {url} is unreachable: {reason}")


def describe_error(exc: BaseException) -> str:
    """A short human reason for an httpx failure (no stack trace)."""
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
