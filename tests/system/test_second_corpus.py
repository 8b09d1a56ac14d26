"""A second corpus brings its own words. CMRC 2018 trial paragraphs, converted by `cmrc-convert`
and served with a profile of their own, show their own title and starter questions on the chat
page and in the widget: nothing of the first corpus (the article) is left in the product."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.screenshots import bot_server, free_port, launch_chromium
from tests.support import ROOT

pytestmark = pytest.mark.integration

CMRC = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"
KEEP = 24  # paragraphs: enough for several documents' starters, small enough to embed in seconds


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode("utf-8")


def _cmrc_corpus(base: Path) -> tuple[Path, set[str]]:
    subprocess.run(
        [sys.executable, "-m", "bot", "cmrc-convert", str(CMRC), "--out", str(base / "cmrc")],
        check=True,
        capture_output=True,
    )
    corpus = base / "cmrc" / "corpus"
    docs = sorted(corpus.glob("*.txt"))
    for extra in docs[KEEP:]:
        extra.unlink()
    titles = {p.read_text(encoding="utf-8").split("title: ", 1)[1].split("\n", 1)[0] for p in docs[:KEEP]}
    (corpus / "profile.toml").write_text(
        'title = "CMRC 百科问答"\nshort_title = "百科问答"\nhint = "问问这些百科段落。"\n', encoding="utf-8"
    )
    return corpus, titles


@pytest.mark.skipif(not CMRC.exists(), reason=f"{CMRC} is laid beside the checkout on these machines")
def test_a_second_corpus_carries_its_own_title_and_starters(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    corpus, titles = _cmrc_corpus(tmp_path)
    port = free_port()
    args = ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "--data", str(tmp_path / "data")]
    with bot_server([*args, "--mode", "extractive"], port) as server:
        starters = json.loads(_get(server + "/api/starters"))["questions"]
        # Drawn from the corpus's own titles (the profile lists none), and each checked answerable.
        assert starters and all(any(t in q for t in titles) for q in starters), starters
        # The loader's default title is the profile's (JSON-escaped into the script).
        assert json.dumps("百科问答") in _get(server + "/widget.js")
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(server + "/chat/")
            page.get_by_text("回答模式").wait_for()
            page.locator("#qs-starters").get_by_text(starters[0]).wait_for()
            assert page.title() == "CMRC 百科问答 · qingshan-bot"
            assert page.get_by_role("heading", name="CMRC 百科问答").is_visible()
            widget = browser.new_page()
            widget.goto(server + "/widget/")
            widget.locator("#qs-starters button").first.wait_for()
            assert widget.locator("#qs-title").inner_text() == "百科问答"
            assert widget.locator("#qs-hint").inner_text() == "问问这些百科段落。"
            for shown in (page, widget):
                assert not any(name in shown.content() for name in ("青山", "北奔", "包头"))
            browser.close()
    shutil.rmtree(tmp_path / "index", ignore_errors=True)
