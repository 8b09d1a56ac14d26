"""Who may use the admin pages: one token from settings (`QINGSHAN_ADMIN_TOKEN`).

A browser signs in once at /admin/login and then carries an HttpOnly, SameSite=Strict cookie
holding an expiry time and a keyed hash of it under the token (never the token itself), so
another site can neither read it nor make a browser send it, and a copied cookie stops working
after `SESSION_S` (or at once, when the token is changed). Scripts send
`Authorization: Bearer <token>` instead. With no token set the admin pages are off and say how
to turn them on: an open admin page is worse than none.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request`, imported lazily below.

import hashlib
import hmac
import html
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

COOKIE = "qingshan_admin"
OFF_MESSAGE = "The admin pages are off. Set QINGSHAN_ADMIN_TOKEN and restart the server to turn them on."
# A working day: a signed-in browser signs in again the next day, and a cookie copied off a
# shared machine is worth no more than that.
SESSION_S = 12 * 3600
_EXPIRY = re.compile(r"[0-9]{1,12}")


class AdminAuth:
    def __init__(
        self, token: SecretStr | None, session_s: int = SESSION_S, clock: Callable[[], float] = time.time
    ) -> None:
        self._token = token.get_secret_value().encode() if token else None
        self.session_s, self.clock = session_s, clock
        self._throttle: LoginThrottle | None = None
        self._identity: Any = None

    def count_wrong_bearers(self, throttle: "LoginThrottle", identity: Any) -> None:
        """Wrong `Authorization: Bearer` tokens count against their client as wrong sign-ins do:
        else a script could guess the token at the API without limit."""
        self._throttle, self._identity = throttle, identity

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def cookie_value(self) -> str:
        """A new session: "<expiry>.<hmac of the expiry under the token>"."""
        expires = int(self.clock()) + self.session_s
        return f"{expires}.{self._sign(expires)}"

    def _sign(self, expires: int) -> str:
        assert self._token is not None
        return hmac.new(self._token, f"qingshan-admin-session:{expires}".encode(), hashlib.sha256).hexdigest()

    def cookie_ok(self, value: str) -> bool:
        expires, _, mac = value.partition(".")
        if self._token is None or not _EXPIRY.fullmatch(expires) or int(expires) <= self.clock():
            return False
        # As bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500).
        return hmac.compare_digest(mac.encode(), self._sign(int(expires)).encode())

    def token_ok(self, token: str) -> bool:
        return self._token is not None and hmac.compare_digest(token.encode(), self._token)

    def allowed(self, headers: Any, cookies: Any) -> bool:
        if self._token is None:
            return False
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self.token_ok(auth[7:]):
            return True
        return self.cookie_ok(cookies.get(COOKIE, ""))

    def require(self, request: Any) -> None:
        """A FastAPI dependency body: 403 when the pages are off, 401 without the token."""
        from starlette.exceptions import HTTPException

        if not self.enabled:
            raise HTTPException(403, OFF_MESSAGE)
        client, throttle = self._bearer_client(request), self._throttle
        if client and throttle and (wait := throttle.retry_after(client)):
            # Refused unchecked, as a sign-in is: a try past the limit is no guess.
            raise HTTPException(429, f"too many wrong admin tokens; try again in {wait} s", {"Retry-After": str(wait)})
        if self.allowed(request.headers, request.cookies):
            if client and throttle:
                throttle.succeeded(client)
            return
        if client and throttle:
            throttle.failed(client)
        raise HTTPException(401, "admin token missing or wrong: sign in at /admin/login")

    def _bearer_client(self, request: Any) -> str:
        """The throttle's name for a request that sends a Bearer token; "" for one that does not
        (a browser whose session ended is no guesser)."""
        if self._throttle is None or not request.headers.get("authorization", "").lower().startswith("bearer "):
            return ""
        return str(self._identity.of(request.client.host if request.client else None, request.headers))


class LoginThrottle:
    """Wrong tokens per client in a sliding window: past `max_failures` in `window_s` seconds the
    client's sign-ins are refused (429) until the oldest failure leaves the window. A right token
    clears the client's count. In memory, per process, at most `max_clients` clients kept."""

    def __init__(
        self,
        max_failures: int = 10,
        window_s: float = 600.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.window_s, self.max_clients, self.clock = max_failures, window_s, max_clients, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return 0
            return max(1, math.ceil(recent[0] + self.window_s - self.clock()))

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= self.clock() - self.window_s:
            recent.popleft()
        return recent


def login_page(next_path: str, error: str = "") -> str:
    note = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Admin sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<main style="max-width:28rem;margin:4rem auto;font-family:sans-serif">
<h1>管理登录 · Admin sign-in</h1>{note}
<form method="post" action="/admin/login">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main></body></html>"""


def safe_next(raw: str | None) -> str:
    """Only a path on this server: `//evil.example` or `https://…` would make the sign-in an open redirect."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/admin/"
    return quote(raw, safe="/?=&-_.~%")


def add_login_routes(app: Any, auth: AdminAuth, identity: Any) -> None:
    """`identity` (a `ClientIdentity`) names the client whose wrong tokens `app.state.login_throttle` counts."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    throttle = app.state.login_throttle = LoginThrottle()
    auth.count_wrong_bearers(throttle, identity)

    @app.get("/admin/login", include_in_schema=False)
    def login_form(next: str | None = None) -> Any:
        if not auth.enabled:
            return HTMLResponse(f"<!doctype html><p>{html.escape(OFF_MESSAGE)}</p>", status_code=403)
        return HTMLResponse(login_page(safe_next(next)))

    @app.post("/admin/login", include_in_schema=False)
    def login(request: Request, token: str = Form(""), next: str = Form("/admin/")) -> Any:
        if not auth.enabled:
            return HTMLResponse(f"<!doctype html><p>{html.escape(OFF_MESSAGE)}</p>", status_code=403)
        client = identity.of(request.client.host if request.client else None, request.headers)
        wait = throttle.retry_after(client)
        if wait:
            message = f"Too many wrong tokens; try again in {wait} s."
            return HTMLResponse(
                login_page(safe_next(next), message), status_code=429, headers={"Retry-After": str(wait)}
            )
        if not auth.token_ok(token):
            throttle.failed(client)
            return HTMLResponse(login_page(safe_next(next), "Wrong token."), status_code=401)
        throttle.succeeded(client)
        response = RedirectResponse(safe_next(next), status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            auth.cookie_value(),
            max_age=auth.session_s,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        return response

    @app.post("/admin/logout", include_in_schema=False)
    def logout() -> Any:
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


def add_admin_home(app: Any, auth: AdminAuth) -> None:
    """/admin/: links to every admin page registered in `app.state.admin_sections`."""
    from fastapi import Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    @app.get("/admin/", include_in_schema=False)
    def admin_home(request: Request) -> Any:
        if not auth.enabled:
            return HTMLResponse(f"<!doctype html><p>{html.escape(OFF_MESSAGE)}</p>", status_code=403)
        if not auth.allowed(request.headers, request.cookies):
            return RedirectResponse("/admin/login?next=/admin/", status_code=303)
        links = "".join(
            f'<li><a href="{html.escape(path)}">{html.escape(label)}</a></li>'
            for label, path in request.app.state.admin_sections
        )
        return HTMLResponse(
            '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Admin</title></head>'
            f"<body><main><h1>管理 · Admin</h1><ul>{links or '<li>No admin pages yet.</li>'}</ul>"
            '<form method="post" action="/admin/logout"><button>Sign out</button></form></main></body></html>'
        )
