"""/eval/ in headless Chromium against a real `qingshan-bot serve` (real embedding model,
extractive mode) reading two real runs on the article made by one `eval --compare` call (the
hybrid ranker against keyword-only): 401 without the token, the changed-only grid, a case opened
with its citation highlighted, planted markup kept inert, and feedback from the chat page
labelled in the review queue, exported and run by `eval`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.screenshots import ask_on_chat_page, bot_server, free_port, sign_in
from tests.support import ARTICLE, ROOT

pytestmark = pytest.mark.integration
TOKEN = "browser-eval-token"
XSS_DOC = (
    "# 科普周公告\n\n测试公告：科普周活动在九月举行<img src=x onerror=alert('corpus')>，"
    "地点在科技馆<script>alert('corpus2')</script>。\n"
)
XSS_ID = "xss-01"
XSS_QUESTION = "<img src=x onerror=alert('question')>科普周活动在几月举行？"


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("evalpage")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    (corpus / "kepu.md").write_text(XSS_DOC, encoding="utf-8")
    items = [json.loads(x) for x in (ROOT / "eval" / "qingshan.jsonl").read_text(encoding="utf-8").splitlines()]
    keep = [i for i in items if i["type"] == "english"] + [i for i in items if i["type"] == "number"][:4]
    keep.append(
        {
            "id": XSS_ID,
            "type": "entity",
            "question": XSS_QUESTION,
            "answerable": True,
            "must": [["九月"]],
            "evidence": [],
        }
    )
    (base / "sets").mkdir()
    (base / "sets" / "small.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in keep))
    store = ["--corpus", str(corpus), "--index", str(base / "index")]
    _run_cli(
        "eval", "--compare", "extractive", "extractive,ranker=keyword", "--questions", "sets/small.jsonl",
        "--out", "runs/cmp", *store, cwd=base,
    )  # fmt: skip
    env = {
        "QINGSHAN_ADMIN_TOKEN": TOKEN,
        "QINGSHAN_EVAL_RUNS_DIR": str(base / "runs"),
        "QINGSHAN_EVAL_SETS_DIR": str(base / "sets"),
    }
    args = [*store, "--data", str(base / "data"), "--mode", "extractive"]
    with bot_server(args, free_port(), env=env) as server:
        yield {"server": server, "base": base, "store": store}


def _cases(folder: Path) -> dict[str, dict]:
    return {c["id"]: c for c in map(json.loads, (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines())}


def test_grid_changed_only_and_a_case_with_its_citation(site: dict[str, Any], page: Any) -> None:
    assert page.goto(site["server"] + "/eval/").status == 401
    sign_in(page, site["server"], TOKEN, "/eval/")
    assert page.locator("table.runs").is_visible() and "cmp/run-a" in page.locator("table.runs").inner_text()
    a = _cases(site["base"] / "runs" / "cmp" / "run-a")
    b = _cases(site["base"] / "runs" / "cmp" / "run-b")
    flipped = {i for i in a if a[i]["verdict"] != b[i]["verdict"]}
    assert flipped
    page.locator("#grid-filters input[name=changed]").check()
    page.locator("#grid-filters button").click()
    page.wait_for_url(re.compile(r"changed=1"))
    rows = page.locator("#grid tbody tr")
    assert {rows.nth(i).get_attribute("data-id") for i in range(rows.count())} == flipped
    # Open the run where the changed question passed: its answer cites the article.
    qid = sorted(flipped)[0]
    column = 3 if a[qid]["verdict"] == "pass" else 4
    page.locator(f"#grid tr[data-id='{qid}'] td:nth-child({column + 1}) a").click()
    page.get_by_role("heading", name="Answer").wait_for()
    assert "pass" in page.locator("h2:has-text('Verdict')").inner_text()
    assert page.locator(".reason").inner_text().startswith(a[qid]["reason"][:20])
    cite = page.locator("details.qs-cite").first
    cite.locator("summary").click()
    mark = cite.locator("mark")
    assert mark.is_visible() and mark.inner_text().strip() in cite.locator(".qs-passage").inner_text()
    assert page.dialogs == []


def test_planted_markup_stays_text(site: dict[str, Any], page: Any) -> None:
    sign_in(page, site["server"], TOKEN, f"/eval/case?run=cmp/run-a&id={XSS_ID}")
    body = page.locator("main").inner_text()
    assert "<img src=x onerror=alert('question')>" in body
    page.locator("details.qs-cite summary").first.click()
    assert "<script>alert('corpus2')</script>" in page.locator(".qs-passage").first.inner_text()
    assert page.locator("main img[src='x'], main script").count() == 0
    page.goto(site["server"] + "/eval/?type=entity")
    assert "<img src=x" in page.locator("#grid").inner_text() and page.locator("#grid img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_thumbs_down_with_a_comment_is_labelled_exported_and_run(site: dict[str, Any], page: Any) -> None:
    page.goto(site["server"] + "/chat/")
    ask_on_chat_page(page, "青山区2021年有多少家高新技术企业？")
    page.locator("#qs-chat button[aria-label='Dislike']").first.click()
    comment = "<script>alert('comment')</script>应写明19家"
    page.locator("#qs-comment textarea").fill(comment)
    page.locator("#qs-comment-send").click()
    page.get_by_text("已记录说明").wait_for()
    sign_in(page, site["server"], TOKEN, "/eval/review")
    item = page.locator("article.item").filter(has_text="应写明19家").first
    assert comment in item.locator(".comment").inner_text()
    assert "2021" in item.locator(".question").inner_text() and "19" in item.locator(".qs-answer").inner_text()
    item.locator("textarea[name=expected]").fill("19家")
    item.locator("select[name=type]").select_option("number")
    item.locator("button[value=label]").click()
    labelled = page.locator("article.item.labelled").first
    assert "expected: 19家" in labelled.locator("ol.history").inner_text()
    export = page.request.get(site["server"] + "/eval/review/export.jsonl")
    assert export.status == 200
    path = site["base"] / "reviewed.jsonl"
    path.write_text(export.text(), encoding="utf-8")
    [case] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert case["must"] == [["19家"]] and case["type"] == "number"
    _run_cli(
        "eval", "--questions", str(path), "--mode", "extractive", "--out", "runs/reviewed", *site["store"],
        cwd=site["base"],
    )  # fmt: skip
    [row] = _cases(site["base"] / "runs" / "reviewed").values()
    assert row["id"] == case["id"] and row["verdict"] == "pass"
    assert page.dialogs == []


def test_widget_thumbs_down_sends_its_comment_to_the_queue(site: dict[str, Any], page: Any) -> None:
    page.goto(site["server"] + "/widget/")  # the panel page itself, on the server's own origin
    page.locator("#qs-q").fill("青山区2021年有多少家科技型中小企业？")
    page.locator("#qs-q").press("Enter")
    page.locator(".msg.bot > .mode").first.wait_for(timeout=120_000)
    page.locator(".msg.bot button.rate[data-rating='down']").first.click()
    page.locator(".comment textarea").fill("<img src=x onerror=alert('w')>应该是11家")
    page.locator(".comment button.comment-send").click()
    page.locator(".thanks").wait_for()
    sign_in(page, site["server"], TOKEN, "/eval/review")
    item = page.locator("article.item").filter(has_text="应该是11家").first
    assert "<img src=x onerror=alert('w')>" in item.locator(".comment").inner_text()
    assert "not helpful" in item.locator("header").inner_text()
    assert page.locator("main img[src='x']").count() == 0 and page.dialogs == []
