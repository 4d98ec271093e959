"""The metric names a policy condition may use, read from the anomaly service's catalog.

The metric catalog promises "add a signal, no code change": so the engine does not hard-code
the names. It reads them from the anomaly service's `GET /models` (`catalog[].name`, `.unit`),
checks them, keeps the last good copy in the state store (so a restart while the anomaly service
is down still knows them), and, when they change, the policies file is validated again against
the new names. Until the anomaly service has ever answered, the shipped catalog file's names are
used (conditions.DEFAULT_METRICS, read by relia_contracts/catalog.py). A name a condition uses
that is not in the vocabulary is an error that lists the known ones (conditions/parser.py).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from policy_engine.conditions import (
    DEFAULT_METRICS,
    FLAGS,
    KEYWORDS,
    METRICS,
    SEVERITIES,
    set_vocabulary,
    unit_kind,
)
from policy_engine.store import Store
from policy_engine.yaml_load import bounded

log = logging.getLogger("policy_engine.vocabulary")

VOCABULARY_KEY = "vocabulary.last_good"
MAX_SIGNALS = 200
SIGNAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RESERVED = {*KEYWORDS, "severity", *FLAGS, *SEVERITIES}

Fetch = Callable[[], Awaitable[Any]]


class VocabularyError(ValueError):
    """The catalog answer cannot be used as a vocabulary (the message is bounded)."""


def signals_from_catalog(payload: Any) -> dict[str, str]:
    """name -> unit kind from a `GET /models` answer; raises VocabularyError saying why."""
    catalog = payload.get("catalog") if isinstance(payload, dict) else None
    if not isinstance(catalog, list) or not catalog:
        raise VocabularyError("/models answer has no non-empty 'catalog' list")
    if len(catalog) > MAX_SIGNALS:
        raise VocabularyError(f"catalog has more than {MAX_SIGNALS} signals")
    out: dict[str, str] = {}
    for index, entry in enumerate(catalog):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not SIGNAL_NAME.match(name):
            raise VocabularyError(f"catalog[{index}].name: not a signal name: {bounded(name, 80)}")
        if name in RESERVED:
            raise VocabularyError(f"catalog[{index}].name: '{name}' is a reserved word")
        if name in out:
            raise VocabularyError(f"catalog[{index}].name: duplicate signal '{name}'")
        out[name] = unit_kind(entry.get("unit", ""))
    return out


class Vocabulary:
    """The live vocabulary: restored from the store at start, refreshed from the catalog."""

    def __init__(
        self,
        store: Store,
        base_url: str | None,
        *,
        fetch: Fetch | None = None,
        timeout_s: float = 3.0,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/") if base_url else None
        self._client: httpx.AsyncClient | None = None
        if fetch is None and self.base_url is not None:
            self._client = httpx.AsyncClient(timeout=timeout_s)
        self._fetch = fetch or self._get_models
        self.source = "default"  # default | store | catalog
        self.last_error: str | None = None
        self.fetched_at: float | None = None

    @property
    def names(self) -> list[str]:
        return list(METRICS)

    def restore(self) -> str:
        """At start: the last good copy from the store, else the shipped catalog's names."""
        saved = self.store.get(VOCABULARY_KEY)
        signals: dict[str, str] | None = None
        if saved is not None:
            try:
                signals = signals_from_catalog(json.loads(saved))
            except (ValueError, TypeError) as exc:  # a damaged row: fall back, say so
                self.last_error = f"stored vocabulary unusable: {bounded(exc)}"
        set_vocabulary(signals)
        self.source = "store" if signals is not None else "default"
        return self.source

    async def refresh(self, now: float | None = None) -> bool:
        """Read the catalog; True when the names (or their units) changed and were applied.

        Any failure keeps the current vocabulary and only records why."""
        if self._fetch is self._get_models and self.base_url is None:
            self.last_error = "ANOMALY_SERVICE_URL not set"
            return False
        try:
            payload = await self._fetch()
            signals = signals_from_catalog(payload)
        except (httpx.HTTPError, ValueError) as exc:
            self.last_error = f"{type(exc).__name__}: {bounded(exc)}"
            return False
        self.last_error = None
        self.fetched_at = now
        self.source = "catalog"
        if signals == dict(METRICS):
            return False
        set_vocabulary(signals)
        catalog = [{"name": n, "unit": _unit_of(kind)} for n, kind in signals.items()]
        self.store.put(VOCABULARY_KEY, json.dumps({"catalog": catalog}))
        log.info("condition vocabulary from the catalog: %s", ", ".join(signals))
        return True

    def view(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "names": self.names,
            "fetched_at": self.fetched_at,
            "error": self.last_error,
        }

    async def _get_models(self) -> Any:
        assert self._client is not None
        assert self.base_url is not None
        response = await self._client.get(self.base_url + "/models")
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _unit_of(kind: str) -> str:
    return {"time": "seconds", "ratio": "ratio", "bytes": "bytes"}.get(kind, "")


__all__ = ["DEFAULT_METRICS", "VOCABULARY_KEY", "Vocabulary", "signals_from_catalog"]
