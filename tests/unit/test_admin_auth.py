"""The admin token: off without one, 401 without it, a sign-in cookie that holds no token,
Bearer for scripts, and no open redirect after sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.core.settings import Settings
from bot.server.admin_auth import COOKIE, OFF_MESSAGE, LoginThrottle, safe_next
from tests.support.fakes import FakeEmbedder
from tests.unit.test_server_app import make_client

TOKEN = "s3cret-admin-token"


def admin_client(settings: Settings, tmp_path: Path, embedder: FakeEmbedder, token: str | None) -> TestClient:
    update = {"data_dir": tmp_path / "data", "admin_token": SecretStr(token) if token else None}
    return make_client(settings.model_copy(update=update), embedder)


def test_admin_pages_are_off_without_a_token(settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with admin_client(settings, tmp_path, fake_embedder, None) as client:
        for path in ("/admin/", "/admin/login"):
            page = client.get(path)
            assert page.status_code == 403 and "QINGSHAN_ADMIN_TOKEN" in page.text
        assert client.post("/admin/login", data={"token": ""}).status_code == 403
        assert "QINGSHAN_ADMIN_TOKEN" in OFF_MESSAGE


def test_sign_in_cookie_and_bearer(settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with admin_client(settings, tmp_path, fake_embedder, TOKEN) as client:
        home = client.get("/admin/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"].startswith("/admin/login")
        wrong = client.post("/admin/login", data={"token": "nope", "next": "/admin/"})
        assert wrong.status_code == 401 and "Wrong token" in wrong.text and COOKIE not in client.cookies
        ok = client.post("/admin/login", data={"token": TOKEN, "next": "//evil.example/x"}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/admin/", "no open redirect"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert TOKEN not in cookie, "the cookie holds a keyed hash, never the token"
        assert "Max-Age=43200" in cookie, "the browser drops it after a working day"
        assert client.get("/admin/").status_code == 200
        client.post("/admin/logout")
        assert client.get("/admin/", follow_redirects=False).status_code == 303
        bearer = client.get("/admin/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200 and "Admin" in bearer.text


def test_safe_next_keeps_local_paths_only() -> None:
    assert safe_next("/eval/?run=a") == "/eval/?run=a"
    for bad in (None, "", "https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"):
        assert safe_next(bad) == "/admin/"


def test_admin_writes_only_from_the_servers_own_pages(
    settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    """An origin allowed to embed the widget (possibly on the same site, so the SameSite=Strict
    cookie goes along) may call the public API but never post to the admin pages."""
    widget_site = "http://blog.example"
    update = {"data_dir": tmp_path / "data", "admin_token": SecretStr(TOKEN), "allowed_origins": widget_site}
    with make_client(settings.model_copy(update=update), fake_embedder) as client:
        client.post("/admin/login", data={"token": TOKEN})
        assert COOKIE in client.cookies
        from_widget_site = {"origin": widget_site}
        for path in ("/admin/documents/api/delete/qingshan-article", "/eval/run/cancel", "/admin/logout"):
            refused = client.post(path, headers=from_widget_site)
            assert refused.status_code == 403 and "admin pages" in refused.json()["error"]["message"], path
        listed = client.get("/admin/documents/api").json()["documents"]
        assert "qingshan-article" in {d["id"] for d in listed}, "nothing was deleted"
        assert client.post("/api/ask", json={"question": "青山区"}, headers=from_widget_site).status_code != 403
        own = client.post("/eval/run/cancel", headers={"origin": "http://testserver"}, follow_redirects=False)
        assert own.status_code == 303


def test_a_cookie_or_token_of_any_characters_is_a_401_not_a_500(
    settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    with admin_client(settings, tmp_path, fake_embedder, TOKEN) as client:
        odd = {"cookie": f"{COOKIE}=签名".encode()}  # raw UTF-8 bytes, as a browser may send
        for path in ("/admin/documents/api", "/eval/review/export.jsonl"):
            assert client.get(path, headers=odd).status_code == 401, path
        assert client.get("/admin/", headers=odd, follow_redirects=False).status_code == 303
        bearer = {"authorization": "Bearer 令牌".encode()}
        assert client.get("/admin/documents/api", headers=bearer).status_code == 401


def test_wrong_tokens_are_limited_per_client_and_a_right_one_under_the_limit_works(
    settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    with admin_client(settings, tmp_path, fake_embedder, TOKEN) as client:
        throttle = client.app.state.login_throttle  # type: ignore[attr-defined]
        now = [1000.0]
        throttle.clock = lambda: now[0]

        def sign_in(token: str) -> Any:
            return client.post("/admin/login", data={"token": token, "next": "/admin/"}, follow_redirects=False)

        # The user's path: a few typos, then the right token, signs in and starts afresh.
        assert [sign_in(f"typo{i}").status_code for i in range(9)] == [401] * 9
        assert sign_in(TOKEN).status_code == 303 and client.get("/admin/").status_code == 200
        client.post("/admin/logout")
        # A guesser: ten wrong tokens, then even the right one waits.
        assert [sign_in(f"guess{i}").status_code for i in range(10)] == [401] * 10
        now[0] += 60
        limited = sign_in(TOKEN)
        assert limited.status_code == 429 and "Too many wrong tokens" in limited.text
        assert limited.headers["retry-after"] == "540" and COOKIE not in client.cookies
        assert sign_in("guess").status_code == 429  # a refused try is not a guess: the token is not checked
        now[0] += 540  # the first failure leaves the window
        assert sign_in(TOKEN).status_code == 303


def test_the_login_throttle_counts_each_client_in_a_sliding_window() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_s=100.0, max_clients=2, clock=lambda: now[0])
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        assert throttle.retry_after("ip:a") == 0
        throttle.failed("ip:a")
    assert throttle.retry_after("ip:a") == 80 and throttle.retry_after("ip:b") == 0
    now[0] = 100.0  # the failure at 0 has left the window
    assert throttle.retry_after("ip:a") == 0
    throttle.failed("ip:a")
    assert throttle.retry_after("ip:a") == 10
    throttle.succeeded("ip:a")
    assert throttle.retry_after("ip:a") == 0
    for client in ("ip:c", "ip:d", "ip:e"):  # memory stays bounded
        throttle.failed(client)
    assert len(throttle._failures) <= 2


def test_a_session_cookie_expires_and_cannot_be_extended_by_hand() -> None:
    from bot.server.admin_auth import SESSION_S, AdminAuth

    now = [1_800_000_000.0]
    auth = AdminAuth(SecretStr(TOKEN), clock=lambda: now[0])
    cookie = auth.cookie_value()
    expires, _, mac = cookie.partition(".")
    assert auth.allowed({}, {COOKIE: cookie}) and int(expires) == now[0] + SESSION_S
    assert not auth.allowed({}, {COOKIE: f"{int(expires) + 10**6}.{mac}"}), "a later expiry needs a new signature"
    assert not AdminAuth(SecretStr("another-token"), clock=lambda: now[0]).allowed({}, {COOKIE: cookie})
    for junk in ("", ".", mac, f"{expires}.", f"¹{expires[1:]}.{mac}", f"{expires}.{mac}x", "99999999999999.x"):
        assert not auth.allowed({}, {COOKIE: junk})
    now[0] += SESSION_S - 1
    assert auth.allowed({}, {COOKIE: cookie})
    now[0] += 1
    assert not auth.allowed({}, {COOKIE: cookie}), "expired"
    assert auth.allowed({"authorization": f"Bearer {TOKEN}"}, {}), "a script's Bearer token has no session"


def test_wrong_bearer_tokens_count_as_wrong_sign_ins(
    settings: Settings, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    with admin_client(settings, tmp_path, fake_embedder, TOKEN) as client:
        client.app.state.login_throttle.clock = lambda: 1000.0  # type: ignore[attr-defined]

        def api(token: str) -> Any:
            return client.get("/admin/documents/api", headers={"Authorization": f"Bearer {token}"})

        # The user's path: typos, then the right token, which clears the count.
        assert [api(f"typo{i}").status_code for i in range(9)] == [401] * 9
        assert api(TOKEN).status_code == 200
        assert [api(f"typo{i}").status_code for i in range(9)] == [401] * 9, "counted afresh"
        # A guesser: the tenth wrong token, then even the right one waits, and so does the sign-in form.
        assert api("guess").status_code == 401
        limited = api(TOKEN)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "600"
        assert "too many wrong admin tokens" in limited.json()["error"]["message"]
        signin = client.post("/admin/login", data={"token": TOKEN, "next": "/admin/"}, follow_redirects=False)
        assert signin.status_code == 429
        # A request without a Bearer token is not counted: a browser with no session is sent to sign in.
        assert client.get("/admin/documents/api").status_code == 401
