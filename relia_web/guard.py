"""RequestGuard: the one ASGI middleware every Relia HTTP component uses against cross-site and
hostile requests. It depends on nothing but the standard library.

On a guarded mutating request (POST, PUT, PATCH, DELETE) it demands, before the app sees it:

- no foreign origin: an `Origin` header must name this very host (scheme-less `host:port`
  compared with the `Host` header, or one of `allowed_origins`); `Origin: null` and
  `Sec-Fetch-Site: cross-site` are foreign. 403 otherwise. Clients that are not browsers
  (curl, the dashboard's server side, the anomaly service, Alertmanager) send no Origin.
- `Content-Type: application/json` whenever there is a body; a request with no body and no
  Content-Type is allowed (`curl -X POST /toggle` flips the switch). A browser cannot send a
  cross-site JSON request without a CORS preflight, which no component answers, and a
  cross-site `text/plain` or form POST is refused with 415 here.
- a body of at most `max_body_bytes` (413) nested at most `max_json_depth` deep (400), checked
  on the raw bytes before any parser recurses into it.

On every HTTP request, with `allowed_hosts` set, the `Host` header must be one of them (400):
a DNS-rebinding page reaches the server under its own host name. With `deny_framing`, every
response says `Content-Security-Policy: frame-ancestors 'none'` and `X-Frame-Options: DENY`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_JSON_DEPTH = 64
FRAME_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
]
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, without parsing it (linear time)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    steps = (1 if b in b"[{" else -1 for b in brackets)
    return max(accumulate(steps), default=0)


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json"


def host_variants(names: Collection[str], port: int) -> list[str]:
    """`localhost` -> `localhost`, `localhost:3000`: the Host values a browser sends for them."""
    out: list[str] = []
    for name in names:
        out.extend([name.lower(), f"{name.lower()}:{port}"])
    return out


def _bounded(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class RequestGuard:
    """See the module docstring. `guarded(method, path)` picks the requests to check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guarded: Callable[[str, str], bool] | None = None,
        allowed_hosts: Collection[str] | None = None,
        allowed_origins: Collection[str] = (),
        deny_framing: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.guarded = guarded or (lambda method, path: method in MUTATING)
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.allowed_origins = {o.lower().rstrip("/") for o in allowed_origins}
        self.deny_framing = deny_framing
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.deny_framing:
            send = self._framing(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if self.allowed_hosts is not None and not ({host, "*"} & self.allowed_hosts):
            await _reply(send, 400, f"Host {_bounded(host)!r} is not allowed")
            return
        method, path = scope["method"], scope["path"]
        if method not in MUTATING or not self.guarded(method, path):
            await self.app(scope, receive, send)
            return
        refusal = self._header_refusal(headers, host)
        if refusal is not None:
            await _reply(send, *refusal)
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        refusal = self._body_refusal(body, headers.get("content-type"))
        if refusal is not None:
            await _reply(send, *refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    def _header_refusal(self, headers: dict[str, str], host: str) -> tuple[int, str] | None:
        """What the headers alone refuse: a foreign origin, a non-JSON or oversized body."""
        origin = self._origin_refusal(headers, host)
        if origin is not None:
            return 403, origin
        content_type = headers.get("content-type")
        if content_type is not None and not is_json_media_type(content_type):
            return 415, f"Content-Type must be application/json, not {_bounded(content_type)!r}"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return 413, f"body larger than {self.max_body_bytes} bytes"
        return None

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once answered (too large) or the client went away."""
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _reply(send, 413, f"body larger than {self.max_body_bytes} bytes")
                return None
        return bytes(body)

    def _body_refusal(self, body: bytes, content_type: str | None) -> tuple[int, str] | None:
        if body.strip() and content_type is None:
            return 415, "a request body needs Content-Type: application/json"
        if json_depth(body) > self.max_json_depth:
            return 400, f"JSON nested deeper than {self.max_json_depth} levels"
        return None

    def _origin_refusal(self, headers: dict[str, str], host: str) -> str | None:
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            return "cross-site request refused (Sec-Fetch-Site: cross-site)"
        origin = headers.get("origin")
        if origin is None:
            return None
        normalized = origin.strip().lower().rstrip("/")
        if normalized in self.allowed_origins:
            return None
        if normalized != "null" and urlsplit(normalized).netloc == host:
            return None
        return f"cross-origin request refused (Origin {_bounded(origin)!r})"

    @staticmethod
    def _framing(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in FRAME_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Message = await receive()
        return message

    return replay


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
