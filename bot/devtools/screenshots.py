"""Headless Chromium (Debian's package, driven by Playwright) for the README screenshots; the
browser tests use the same launcher and sample host page.

Never `playwright install`: it downloads a browser, and this machine has no route to it.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.profile import CorpusProfile
from bot.core.settings import Settings

CHROMIUM = os.environ.get("QINGSHAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def check_browser() -> None:
    """Playwright and Chromium are optional (the dev extra, and a Debian package): say how to get
    whichever is missing before anything starts."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"Playwright is not installed ({exc}); install the dev extra with `pip install -e '.[dev]'` "
            "(never `playwright install`: the browser comes from Debian)"
        ) from None
    if not Path(CHROMIUM).exists():
        raise UserError(
            f"{CHROMIUM} not found; install Debian's browser with `apt-get install -y chromium` "
            "(scripts/setup-system.sh), or point QINGSHAN_CHROMIUM at one"
        )


def launch_chromium(playwright: Any) -> Any:
    check_browser()
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)


def host_page(server: str, title: str, widget_title: str) -> str:
    """A third-party page that embeds the widget with the one documented tag."""
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.7 system-ui,sans-serif;margin:0;background:#f4f4f4}}
header{{background:#8b1a1a;color:#fff;padding:18px 32px;font-size:22px}}
main{{max-width:760px;margin:24px auto;background:#fff;padding:24px 32px;min-height:420px}}</style></head>
<body><header>{title}</header>
<main><h2>动态</h2>
<p>本页是一个示例宿主页面，与问答服务不在同一个源。右下角的按钮由一行 script 标签加入。</p></main>
<script src="{server}/widget.js" async data-title="{widget_title}" data-color="#1f6f4a"></script>
</body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def static_site(folder: Path, port: int) -> Iterator[None]:
    """Serves a folder on all loopback names (127.0.0.1 and localhost are different origins)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def bot_server(
    args: list[str],
    port: int,
    timeout: float = 300.0,
    procs: list[Any] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """`qingshan-bot serve` in a child process, yielded once `/readyz` says ready (its Popen is
    appended to `procs` for callers that need to kill it; `env` adds to this process's)."""
    argv = [sys.executable, "-m", "bot", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **env} if env else None,
    )
    if procs is not None:
        procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/readyz", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    done = proc.poll() is not None and proc.stderr is not None
                    err = proc.stderr.read().decode(errors="replace")[-2000:] if done and proc.stderr else ""
                    raise RuntimeError(f"the server did not become ready: {err}") from None
                time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _next_of(locator: Any, before: int, timeout_ms: int) -> Any:
    """Waits for one more match than `before` (earlier answers match too) and returns it."""
    locator.nth(before).wait_for(timeout=timeout_ms)
    return locator.nth(before)


def ask_on_chat_page(page: Any, question: str, timeout_ms: int = 120_000) -> Any:
    done = page.locator("#qs-chat .qs-answer:not(.qs-pending)")
    before = done.count()
    page.locator("#qs-input textarea").fill(question)
    page.locator("#qs-input textarea").press("Enter")
    return _next_of(done, before, timeout_ms)


def ask_in_widget(page: Any, question: str, timeout_ms: int = 120_000) -> Any:
    if page.locator("#qingshan-widget iframe").count() == 0 or not page.locator("#qingshan-widget iframe").is_visible():
        page.locator("#qingshan-widget button").click()
    frame = page.frame_locator("#qingshan-widget iframe")
    done = frame.locator(".msg.bot > .mode, .msg.error")  # the mode line comes with the final answer
    before = done.count()
    frame.locator("#qs-q").fill(question)
    frame.locator("#qs-q").press("Enter")
    _next_of(done, before, timeout_ms)
    return frame


def sign_in(page: Any, server: str, token: str, next_path: str) -> None:
    """Signs a browser page in at /admin/login and lands on `next_path`."""
    from urllib.parse import quote

    page.goto(f"{server}/admin/login?next={quote(next_path, safe='/')}")
    page.locator("input[name=token]").fill(token)
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()


def take_screenshots(out: Path, profile: CorpusProfile | None = None, mode: str = "extractive") -> list[Path]:
    """Chat page (desktop and phone width) and the widget open on a third-party page."""
    check_browser()
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    profile = profile or Settings().profile()
    questions = [*profile.starters, *([profile.example_question] * 3)][:3]
    port, host_port = free_port(), free_port()
    host_origin = f"http://127.0.0.1:{host_port}"
    written = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        bot_server(["--mode", mode, "--allowed-origins", host_origin, "--data", tmp], port) as server,
    ):
        page_title = html.escape(f"{profile.title}（示例宿主页）")
        (Path(tmp) / "index.html").write_text(
            host_page(server, page_title, html.escape(profile.short_title)), encoding="utf-8"
        )
        with static_site(Path(tmp), host_port), sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(server + "/chat/")
            answer = ask_on_chat_page(page, questions[0])
            answer.locator("details.qs-cite summary").first.click()
            page.screenshot(path=out / "chat.png")
            written.append(out / "chat.png")

            phone = browser.new_page(viewport={"width": 390, "height": 800}, device_scale_factor=2)
            phone.goto(server + "/chat/")
            ask_on_chat_page(phone, questions[1])
            phone.screenshot(path=out / "chat-phone.png")
            written.append(out / "chat-phone.png")

            host = browser.new_page(viewport={"width": 1100, "height": 760})
            host.goto(host_origin + "/index.html")
            frame = ask_in_widget(host, questions[2])
            frame.locator(".msg.bot .ref").first.click()
            host.screenshot(path=out / "widget.png")
            written.append(out / "widget.png")
            browser.close()
    return written


def _two_runs(base: Path, questions: Path) -> Path:
    """Two real runs of a question set, hybrid against keyword-only retrieval, by `eval --compare`."""
    runs = base / "runs"
    argv = [sys.executable, "-m", "bot", "eval", "--compare", "extractive", "extractive,ranker=keyword"]
    argv += ["--questions", str(questions), "--out", str(runs / "compare")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise UserError(f"the evaluation runs for the screenshots failed: {proc.stderr.strip()[-500:]}")
    return runs


def take_eval_screenshots(out: Path, questions: Path = Path("eval/qingshan.jsonl")) -> list[Path]:
    """The /eval/ grid filtered to changed questions, and one changed case opened."""
    check_browser()
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    token = "screenshots"
    with tempfile.TemporaryDirectory() as tmp:
        runs = _two_runs(Path(tmp), questions)
        env = {"QINGSHAN_ADMIN_TOKEN": token, "QINGSHAN_EVAL_RUNS_DIR": str(runs)}
        with (
            bot_server(["--mode", "extractive", "--data", tmp], free_port(), env=env) as server,
            sync_playwright() as pw,
        ):
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1100, "height": 640})
            sign_in(page, server, token, "/eval/?changed=1")
            page.locator("#grid-filters").scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, document.querySelector('#grid-filters').getBoundingClientRect().top - 8)")
            page.screenshot(path=out / "eval-grid.png")
            page.set_viewport_size({"width": 1100, "height": 820})
            page.locator("#grid tbody td.pass a").first.click()
            page.locator("details.qs-cite summary").first.click()
            page.screenshot(path=out / "eval-case.png")
            browser.close()
    return [out / "eval-grid.png", out / "eval-case.png"]
