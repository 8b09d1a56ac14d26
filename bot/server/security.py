"""Who may embed and call the server, and the headers every response carries.

- Browsers send `Origin` with cross-site requests: a write (POST…) from an origin that is not
  the server's own nor in `--allowed-origins` is refused with 403 — CORS alone would only hide
  the response from the page, after the answer had been computed.
- `Content-Security-Policy: frame-ancestors` limits which pages may frame the chat page and
  the widget; `X-Content-Type-Options: nosniff` everywhere.
- Bodies over `max_body_bytes` are refused (413) before they are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bot.core.errors import error_body

Scope = dict[str, Any]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The admin pages: writes come from their own pages only. The origins the widget may be embedded
# in are for the public API; one on the same site (blog.example.com beside bot.example.com)
# would carry the SameSite=Strict admin cookie and could otherwise post with it.
ADMIN_PREFIXES = ("/admin/", "/eval/")


class BodyTooLarge(ValueError):
    """A body (chunked, so without a length) that ran past the limit while being read."""


def frame_ancestors(origins: list[str]) -> str:
    return " ".join(["frame-ancestors 'self'", *origins])


class SecurityMiddleware:
    def __init__(
        self,
        app: Any,
        origins: list[str],
        max_body: int,
        large_bodies: dict[str, int] | None = None,
        large_ok: Callable[[Any, Any], bool] | None = None,
    ) -> None:
        self.app = app
        self.origins = set(origins)
        self.max_body = max_body
        self.large_bodies = large_bodies or {}  # exact path -> its own limit (uploads)
        # (headers, cookies) -> may this request use its path's large limit (the admin token)?
        # FastAPI reads a form's whole body before the route checks the token: without this, anyone
        # could make the server spool an upload's full size to disk only to be told 401.
        self.large_ok = large_ok
        self.policy = frame_ancestors(origins)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers.get("origin"), headers.get("host", ""))
        if refusal:
            await _reject(send, 403, refusal)
            return
        length = headers.get("content-length", "")
        max_body = self._limit(scope)
        if length.isdigit() and int(length) > max_body:
            await _reject(send, 413, f"the request body is {length} bytes; the limit is {max_body}")
            return

        guard = _BodyGuard(receive, send, max_body, self.policy)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if guard.rejected:  # the 413 went out already
                return
            if not guard.over or guard.started:
                raise
            await guard.reject()  # the app failed on the cut body: say why instead of a 500

    def _limit(self, scope: Scope) -> int:
        large = self.large_bodies.get(scope.get("path", ""))
        if large is None:
            return self.max_body
        if self.large_ok is not None:
            from starlette.requests import HTTPConnection

            conn = HTTPConnection(scope)
            if not self.large_ok(conn.headers, conn.cookies):
                return self.max_body
        return large

    def _refusal(self, scope: Scope, origin: str | None, host: str) -> str:
        """Why a write from `origin` is refused ("" if it is not)."""
        if scope["method"] in SAFE_METHODS or not origin:
            return ""
        if str(scope.get("path", "")).startswith(ADMIN_PREFIXES):
            if _same_origin(origin, host):
                return ""
            return f"origin {origin} may not write to the admin pages; use them from this server's own pages"
        if self._allowed(origin, host):
            return ""
        return f"origin {origin} may not call this server; the operator lists allowed origins with --allowed-origins"

    def _allowed(self, origin: str, host: str) -> bool:
        if origin.lower() in self.origins:
            return True
        return _same_origin(origin, host)  # the server's own pages


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


class _BodyGuard:
    """`receive` counting the body (chunked bodies carry no length) and `send` adding the
    headers. Past the limit, receive raises `BodyTooLarge`, and whatever the app answers to the
    cut body (a 500, or FastAPI's "error parsing the body") is replaced by the 413 that says why."""

    def __init__(self, receive: Any, send: Any, max_body: int, policy: str) -> None:
        self._receive, self._send, self.max_body, self.policy = receive, send, max_body, policy
        self.seen = 0
        self.over = False
        self.started = False
        self.rejected = False

    async def receive(self) -> Any:
        message = await self._receive()
        self.seen += len(message.get("body", b""))
        if self.seen > self.max_body:
            self.over = True
            raise BodyTooLarge(f"the request body exceeds {self.max_body} bytes")
        return message

    async def reject(self) -> None:
        self.started = self.rejected = True
        await _reject(self._send, 413, f"the request body exceeds the limit of {self.max_body} bytes")

    async def send(self, message: Any) -> None:
        if self.rejected:
            return  # the app's own answer to the cut body is dropped
        if message["type"] == "http.response.start" and self.over and not self.started:
            await self.reject()
            return
        if message["type"] == "http.response.start":
            self.started = True
            hdrs = list(message.get("headers", []))
            names = {k.lower() for k, _ in hdrs}
            hdrs.append((b"x-content-type-options", b"nosniff"))
            hdrs.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
            if b"content-security-policy" not in names:
                hdrs.append((b"content-security-policy", self.policy.encode()))
            message = {**message, "headers": hdrs}
        await self._send(message)


async def _reject(send: Any, status: int, message: str) -> None:
    body = json.dumps(error_body(message, code=str(status))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
