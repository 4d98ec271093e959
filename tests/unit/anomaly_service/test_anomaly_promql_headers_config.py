"""PROMETHEUS_HEADERS / PROMETHEUS_BEARER_TOKEN: parsed once, checked at start (docs)."""

from __future__ import annotations

import pytest

from anomaly_service.config import Settings


def test_headers_and_token_make_the_request_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_HEADERS", '{"X-Scope-OrgID": "t1", "Authorization": "Basic x"}')
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", "s3cr3t-x")
    settings = Settings()
    assert settings.prometheus_request_headers() == {
        "X-Scope-OrgID": "t1",
        "Authorization": "Bearer s3cr3t-x",
    }
    assert "s3cr3t-x" not in repr(settings)


def test_no_headers_by_default() -> None:
    assert Settings().prometheus_request_headers() == {}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ('{"X Scope": "a"}', "not a valid HTTP header name"),
        ('{"X-Scope-OrgID": "a\\r\\nInjected: 1"}', "must be one line"),
        ('["X-Scope-OrgID"]', "dict"),
    ],
)
def test_bad_headers_are_refused_at_start_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, headers: str, message: str
) -> None:
    monkeypatch.setenv("PROMETHEUS_HEADERS", headers)
    with pytest.raises(ValueError, match=message):
        Settings()
