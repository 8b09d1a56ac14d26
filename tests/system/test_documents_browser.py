"""The documents page end to end in Debian's Chromium against a real `qingshan-bot serve` (real
embedding model, extractive mode): sign in, upload a PDF, watch the progress bar, ask about it
on the chat page and see the cited page; delete it and the same question is refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools.screenshots import ask_on_chat_page, bot_server, free_port, launch_chromium
from tests.support import ARTICLE
from tests.support.documents import REPORT_PDF

pytestmark = pytest.mark.integration

TOKEN = "browser-admin-token"
Q = "实验室的年度预算是多少？"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("docs-browser")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    args = [
        "--corpus",
        str(corpus),
        "--index",
        str(base / "index"),
        "--data",
        str(base / "data"),
        "--mode",
        "extractive",
    ]
    with bot_server(args, free_port(), env={"QINGSHAN_ADMIN_TOKEN": TOKEN}) as url:
        yield url


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        p = context.new_page()
        p.on("dialog", lambda d: d.accept())  # the delete confirmation
        yield p
        browser.close()


def _wait_for_build(page: Any, runs_before: int) -> None:
    page.wait_for_function(
        "n => document.body.dataset.job === 'done' && Number(document.body.dataset.runs) > n",
        arg=runs_before,
        timeout=180_000,
    )


def test_upload_ask_cited_page_delete_refused(server: str, page: Any) -> None:
    page.goto(server + "/admin/documents/")
    page.locator("input[name=token]").fill(TOKEN)
    page.locator("button[type=submit]").click()
    page.locator("#rows tr[data-id='qingshan-article']").wait_for()
    runs = int(page.evaluate("document.body.dataset.runs"))
    page.locator("#files").set_input_files(str(REPORT_PDF))
    page.locator("#send").click()
    page.locator("#lines").get_by_text("added report.pdf (id report)").wait_for()
    # The bar moves while the build runs (it is polled), and ends full.
    page.wait_for_function("document.getElementById('bar').value > 0", timeout=60_000)
    _wait_for_build(page, runs)
    assert page.locator("#bar").evaluate("b => b.value") == 100
    row = page.locator("#rows tr[data-id='report']")
    row.get_by_text("星河实验室年度报告").wait_for()
    assert "indexed" in row.inner_text() and "pdf" in row.inner_text()

    chat = page.context.new_page()
    chat.goto(server + "/chat/")
    answer = ask_on_chat_page(chat, Q)
    assert "3200万元" in answer.inner_text() and "qs-refused" not in (answer.get_attribute("class") or "")
    cite = answer.locator("details.qs-cite").filter(has_text="3200万元").first
    cite.locator("summary").click()
    assert "第3页" in cite.locator(".qs-meta").inner_text()
    assert "3200万元" in cite.locator("mark").inner_text()

    runs = int(page.evaluate("document.body.dataset.runs"))
    row.locator("button.delete").click()
    _wait_for_build(page, runs)
    page.locator("#rows tr[data-id='report']").wait_for(state="detached")
    chat.reload()
    again = ask_on_chat_page(chat, Q)
    assert "qs-refused" in (again.get_attribute("class") or "") and "文中未提及" in again.inner_text()
