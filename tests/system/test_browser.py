"""End to end against a real `qingshan-bot serve` (real embedding model, extractive mode):
headless Chromium (Debian's package, via Playwright) on the chat page and on a third-party page
embedding the widget, and the real clients: the `openai` SDK and `gradio_client`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.screenshots import (
    ask_in_widget,
    ask_on_chat_page,
    bot_server,
    free_port,
    host_page,
    static_site,
)
from tests.support import ARTICLE

pytestmark = pytest.mark.integration

XSS_DOC = (
    "# 科普周公告\n\n测试公告：青山区科普周活动在九月举行<img src=x onerror=alert('corpus')>，"
    "地点在科技馆<script>alert('corpus2')</script>。\n"
)
XSS_QUESTION = "<img src=x onerror=alert('question')>青山区科普周活动在几月举行？"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("browser")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    (corpus / "kepu.md").write_text(XSS_DOC, encoding="utf-8")
    host_dir = base / "host"
    host_dir.mkdir()
    port, host_port = free_port(), free_port()
    allowed = f"http://127.0.0.1:{host_port}"
    args = ["--corpus", str(corpus), "--index", str(base / "index"), "--data", str(base / "data")]
    with bot_server([*args, "--mode", "extractive", "--allowed-origins", allowed], port) as server:
        (host_dir / "index.html").write_text(host_page(server, "示例宿主页", "科创问答"), encoding="utf-8")
        with static_site(host_dir, host_port):
            # Same page, same port, but `localhost` is another origin, and not an allowed one.
            yield {"server": server, "host": allowed, "unlisted": f"http://localhost:{host_port}", "data": str(base)}


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1100, "height": 850}


def test_chat_page_answers_with_citations_and_takes_feedback(site: dict[str, str], page: Any) -> None:
    page.goto(site["server"] + "/chat/")
    page.get_by_text("回答模式").wait_for()
    answer = ask_on_chat_page(page, "青山区2021年有多少家高新技术企业？")
    assert "19" in answer.inner_text() and "[1]" in answer.inner_text()
    cite = answer.locator("details.qs-cite").first
    assert not cite.locator("mark").is_visible()
    cite.locator("summary").click()
    assert "高新技术企业19家" in cite.locator("mark").inner_text()
    # A follow-up uses the conversation.
    follow = ask_on_chat_page(page, "那科技型中小企业呢？")
    assert "11" in follow.inner_text()
    # An unanswerable question looks different: a refusal badge.
    refusal = ask_on_chat_page(page, "青山区区长叫什么名字？")
    assert refusal.locator(".qs-badge").inner_text() == "文中未提及"
    page.locator("#qs-chat button[aria-label='Like']").first.click()
    page.get_by_text("已记录反馈").wait_for()
    assert page.dialogs == []


def test_markup_in_questions_answers_and_corpus_is_text(site: dict[str, str], page: Any) -> None:
    page.goto(site["server"] + "/chat/")
    answer = ask_on_chat_page(page, XSS_QUESTION)
    assert "九月" in answer.inner_text() and "<script>" in answer.inner_text()  # shown, as text
    assert page.locator("#qs-chat img[src='x']").count() == 0
    assert "<img src=x" in page.locator("#qs-chat").inner_text()
    page.goto(site["host"] + "/index.html")
    frame = ask_in_widget(page, XSS_QUESTION)
    assert frame.locator("img").count() == 0 and "<script>" in frame.locator(".msg.bot").last.inner_text()
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_widget_on_an_allowed_third_party_page(site: dict[str, str], page: Any) -> None:
    page.goto(site["host"] + "/index.html")
    frame = ask_in_widget(page, "北奔重汽在氢能方面和哪家公司合作？")
    bot = frame.locator(".msg.bot").last
    assert "喜玛拉雅" in bot.inner_text()
    bot.locator(".ref").first.click()
    assert frame.locator("details.cite[open] mark").first.is_visible()
    assert page.dialogs == []


def test_widget_and_api_are_refused_on_an_unlisted_origin(site: dict[str, str], page: Any) -> None:
    page.goto(site["unlisted"] + "/index.html")
    page.locator("#qingshan-widget button").click()
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#qingshan-widget iframe")
    assert frame.locator("#qs-form").count() == 0, "frame-ancestors must keep the panel out of this page"
    status = page.evaluate(
        """async (url) => {
            try {
                const r = await fetch(url + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                         body: JSON.stringify({question: '青山区'})});
                return 'read ' + r.status;
            } catch (e) { return 'blocked'; }
        }""",
        site["server"],
    )
    assert status == "blocked"


def test_openai_sdk_plain_and_streaming(site: dict[str, str]) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=site["server"] + "/v1", api_key="unused", max_retries=0)
    msgs: list[Any] = [{"role": "user", "content": "青山区2021年有多少家高新技术企业？"}]
    done = client.chat.completions.create(model="qingshan-bot", messages=msgs)
    assert "19" in (done.choices[0].message.content or "")
    citations = (done.model_extra or {})["citations"]
    assert citations and citations[0]["quote"] in citations[0]["text"]
    text, last = "", None
    for chunk in client.chat.completions.create(model="qingshan-bot", messages=msgs, stream=True):
        text += chunk.choices[0].delta.content or ""
        last = chunk
    assert text == done.choices[0].message.content
    assert last is not None and (last.model_extra or {})["citations"]
    import openai

    with pytest.raises(openai.BadRequestError, match="empty"):
        client.chat.completions.create(model="qingshan-bot", messages=[{"role": "user", "content": "  "}])


def test_gradio_client_chat_endpoint(site: dict[str, str]) -> None:
    from gradio_client import Client

    client = Client(site["server"] + "/chat/", verbose=False)
    text = client.predict("北奔重汽在氢能方面和哪家公司合作？", api_name="/chat")
    assert "喜玛拉雅" in text and "[1]" in text


def test_feedback_export_writes_eval_cases(site: dict[str, str], tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "fb.jsonl"
    # Runs after the chat-page test, which left a thumbs-up.
    subprocess.run(
        [sys.executable, "-m", "bot", "feedback", "export", "--data", site["data"] + "/data", "--out", str(out)],
        check=True,
    )
    import json

    cases = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert cases and cases[0]["feedback"] == "up" and cases[0]["question"]
