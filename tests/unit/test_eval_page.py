"""/eval/ in-process (TestClient, the hashing embedder, extractive answers): the token gate, runs
written by the real `run_eval`, the grid and its filters, one case opened, the review queue fed by
the API's feedback, and an evaluation started, followed and cancelled from the page."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.answering.answerer import Answerer
from bot.core.settings import Settings
from bot.evaluation.runner import run_eval
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from bot.server.app import create_app
from bot.server.service import AnswerService
from tests.support import ROOT
from tests.support.fakes import FakeEmbedder

TOKEN = "eval-page-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _questions(n: int = 24) -> list[dict]:
    items = [json.loads(x) for x in (ROOT / "eval" / "qingshan.jsonl").read_text(encoding="utf-8").splitlines()]
    picked = [i for i in items if i["type"] in ("number", "english", "unanswerable", "paraphrase")]
    return picked[:n]


@pytest.fixture
def page_settings(settings: Settings, tmp_path: Path) -> Settings:
    sets = tmp_path / "sets"
    sets.mkdir()
    (sets / "small.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in _questions(6)))
    return settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "admin_token": SecretStr(TOKEN),
            "eval_runs_dir": tmp_path / "runs",
            "eval_sets_dir": sets,
        }
    )


@pytest.fixture
def client(page_settings: Settings, fake_embedder: FakeEmbedder) -> Iterator[TestClient]:
    build_index(page_settings, fake_embedder)
    retriever = Retriever(page_settings, fake_embedder, auto_index=False)
    answerer = Answerer(page_settings, retriever)
    # Two runs that differ in one setting: five passages against one.
    run_eval(answerer, _questions(), "extractive", page_settings.eval_runs_dir / "top5", progress=False)
    narrow = page_settings.model_copy(update={"top_k": 1})
    run_eval(
        Answerer(narrow, retriever), _questions(), "extractive", page_settings.eval_runs_dir / "top1", progress=False
    )
    service = AnswerService(page_settings, answerer)
    with TestClient(create_app(page_settings, service, warm=False)) as c:
        yield c


def _cases(folder: Path) -> dict[str, dict]:
    return {c["id"]: c for c in map(json.loads, (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines())}


def test_off_without_a_token_and_401_without_it(settings: Settings, tmp_path: Path, fake_embedder) -> None:
    off = settings.model_copy(update={"data_dir": tmp_path / "d", "eval_runs_dir": tmp_path / "r"})
    build_index(off, fake_embedder)
    service = AnswerService(off, Answerer(off, Retriever(off, fake_embedder, auto_index=False)))
    with TestClient(create_app(off, service, warm=False)) as c:
        page = c.get("/eval/")
        assert page.status_code == 403 and "QINGSHAN_ADMIN_TOKEN" in page.text


def test_grid_filters_and_an_opened_case(client: TestClient, page_settings: Settings) -> None:
    assert client.get("/eval/").status_code == 401
    assert client.get("/eval/review").status_code == 401
    assert client.get("/eval/case", params={"run": "top5", "id": "num-01"}).status_code == 401
    home = client.get("/eval/", headers=AUTH)
    assert home.status_code == 200 and "top5" in home.text and "top1" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert ("评测 · Evaluation", "/eval/") in client.app.state.admin_sections
    a, b = _cases(page_settings.eval_runs_dir / "top5"), _cases(page_settings.eval_runs_dir / "top1")
    flipped = {i for i in a if a[i]["verdict"] != b[i]["verdict"]}
    assert flipped, "one passage instead of five was expected to change some verdicts"
    changed = client.get("/eval/", params={"changed": "1"}, headers=AUTH).text
    shown = set(re.findall(r'<tr data-id="([^"]+)"', changed))
    assert shown == flipped
    english = client.get("/eval/", params={"type": "english"}, headers=AUTH).text
    assert all(a[i]["type"] == "english" for i in re.findall(r'<tr data-id="([^"]+)"', english))
    qid = sorted(flipped)[0]
    case = client.get("/eval/case", params={"run": "top5", "id": qid}, headers=AUTH)
    assert case.status_code == 200 and a[qid]["reason"] in case.text.replace("&quot;", '"').replace("&#x27;", "'")
    if a[qid]["verdict"] == "pass" and not a[qid]["refused"]:
        assert "<mark>" in case.text  # the cited sentence highlighted in its passage
    chart = client.get("/eval/chart", params={"run": "top5", "file": "accuracy_by_type.png"}, headers=AUTH)
    assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"
    bad = client.get("/eval/chart", params={"run": "top5", "file": "../report.json"}, headers=AUTH)
    assert bad.status_code == 404


def test_feedback_with_a_comment_is_labelled_and_exported(client: TestClient, page_settings: Settings) -> None:
    answer = client.post("/api/ask", json={"question": "青山区2021年有多少家高新技术企业？"}).json()
    stored = client.post(
        "/api/feedback", json={"rating": "down", "answer": answer, "comment": "<img src=x onerror=alert(1)>数字不对"}
    ).json()["stored"]
    queue = client.get("/eval/review", headers=AUTH).text
    assert "&lt;img src=x onerror=alert(1)&gt;数字不对" in queue and "<img src=x" not in queue
    form = {"action": "label", "expected": "19家|19", "type": "number", "reviewer": "ana", "seen": "0"}
    first = client.post(f"/eval/review/{stored}", data=form, headers=AUTH, follow_redirects=False)
    assert first.status_code == 303
    # A second reviewer who opened the page before ana labelled: later wins, and is told.
    later = client.post(f"/eval/review/{stored}", data={**form, "reviewer": "bo"}, headers=AUTH)
    assert later.status_code == 200 and "Your label replaced the one ana made" in later.text
    exported = client.get("/eval/review/export.jsonl", headers=AUTH).text.splitlines()
    [case] = [json.loads(x) for x in exported]
    assert case["must"] == [["19家", "19"]] and case["source"]["reviewer"] == "bo"
    assert client.post(f"/eval/review/{stored}", data=form).status_code == 401


def test_the_review_queue_is_paged_and_a_label_returns_to_its_page(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.server import review_page

    monkeypatch.setattr(review_page, "PAGE_SIZE", 2)
    answer = client.post("/api/ask", json={"question": "青山区2021年有多少家高新技术企业？"}).json()
    ids = [
        client.post("/api/feedback", json={"rating": "down", "answer": answer, "comment": f"意见{n}"}).json()["stored"]
        for n in range(5)
    ]

    def shown(page: str) -> list[int]:
        return [int(x) for x in re.findall(r'<article class="item [a-z]+" id="item-(\d+)"', page)]

    pages = [client.get("/eval/review", params={"page": n}, headers=AUTH).text for n in (1, 2, 3)]
    assert [shown(p) for p in pages] == [ids[4:2:-1], ids[2:0:-1], ids[:1]], "newest first, two a page"
    assert "Items 1–2 of 5" in pages[0] and "older →" in pages[0] and "← newer" not in pages[0]
    assert "Items 5–5 of 5" in pages[2] and "older →" not in pages[2]
    assert shown(client.get("/eval/review", params={"page": 99}, headers=AUTH).text) == ids[:1], "past the end: last"
    assert shown(client.get("/eval/review", params={"page": -3}, headers=AUTH).text) == ids[4:2:-1]
    form = {"action": "label", "expected": "19家", "type": "number", "reviewer": "ana", "seen": "0"}
    labelled = client.post(f"/eval/review/{ids[0]}", data=form, headers=AUTH)
    assert ids[0] in shown(labelled.text), "the redirect after a label shows the labelled item's page"


def test_a_refused_form_post_is_a_page_for_the_browser_and_json_for_scripts(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": "青山区2021年有多少家高新技术企业？"}).json()
    stored = client.post("/api/feedback", json={"rating": "down", "answer": answer}).json()["stored"]
    form = {"action": "label", "expected": "19家", "type": "no-such-type", "reviewer": "ana", "seen": "0"}
    browser = {**AUTH, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.post(f"/eval/review/{stored}", data=form, headers=browser)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "pick the question&#x27;s type" in page.text and "Nothing was changed" in page.text
    script = client.post(f"/eval/review/{stored}", data=form, headers=AUTH)
    assert script.status_code == 400 and "pick the question's type" in script.json()["error"]["message"]
    run = client.post("/eval/run", data={"set": "<b>nope</b>", "mode": "extractive"}, headers=browser)
    assert run.status_code == 400 and "&lt;b&gt;nope&lt;/b&gt;" in run.text and "<b>nope" not in run.text
    unsigned = client.post(f"/eval/review/{stored}", data={**form, "type": "number"}, headers={"Accept": "text/html"})
    assert unsigned.status_code == 401 and "sign in at /admin/login" in unsigned.text
    queue = client.get("/eval/review", params={"status": "labelled"}, headers=AUTH).text
    assert f'id="item-{stored}"' not in queue, "no refused post left a label"


def test_a_run_from_the_page_with_progress_and_cancel(client: TestClient, page_settings: Settings) -> None:
    started = client.post("/eval/run", data={"set": "small", "mode": "extractive"}, headers=AUTH)
    assert started.status_code == 200  # redirected back to /eval/
    events = client.get("/eval/run/events", headers=AUTH).text  # streams until the run ends
    states = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ")]
    assert states[-1]["status"] == "done" and states[-1]["done"] == 6
    assert states[-1]["run"] in client.get("/eval/", headers=AUTH).text
    busy_set = page_settings.eval_sets_dir / "big.jsonl"
    busy_set.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in _questions(24) * 20))
    client.post("/eval/run", data={"set": "big", "mode": "extractive"}, headers=AUTH)
    again = client.post("/eval/run", data={"set": "small", "mode": "extractive"}, headers=AUTH)
    assert again.status_code == 400 and "already running" in again.text
    client.post("/eval/run/cancel", headers=AUTH)
    jobs = client.app.state.eval_jobs
    deadline = time.monotonic() + 30
    while jobs.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.state["status"] == "cancelled" and not Path(jobs.state["folder"]).exists()
    assert client.post("/eval/run", data={"set": "../x", "mode": "extractive"}, headers=AUTH).status_code == 400


def test_pages_render_1000_questions_by_5_runs() -> None:
    """The pages render the benchmark's synthetic runs in full; how fast is the benchmark's
    figure (`qingshan-bot bench-eval-page`), not asserted here (shared, noisy machines)."""
    from bot.devtools.bench_eval_page import run_bench

    report = run_bench(1000, 5, repeat=1)
    grid = report["pages"]["grid (all questions × runs)"]
    assert grid["bytes"] > 500_000  # every question and cell is there
    for name, figures in report["pages"].items():
        assert figures["bytes"] > 0, (name, figures)


def test_a_cancelled_run_never_removes_an_earlier_run_of_the_same_second(
    client: TestClient, page_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.server import eval_jobs

    monkeypatch.setattr(eval_jobs.time, "strftime", lambda fmt, *a: "20260101-000000")  # one second
    jobs = client.app.state.eval_jobs
    client.post("/eval/run", data={"set": "small", "mode": "extractive"}, headers=AUTH)
    client.get("/eval/run/events", headers=AUTH)  # until it ends
    first = jobs.state
    assert first["status"] == "done" and (Path(first["folder"]) / "report.json").is_file()
    client.post("/eval/run", data={"set": "small", "mode": "extractive"}, headers=AUTH)  # same name
    client.post("/eval/run/cancel", headers=AUTH)
    deadline = time.monotonic() + 30
    while jobs.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.state["folder"] != first["folder"]
    assert (Path(first["folder"]) / "report.json").is_file(), "the earlier run's results were deleted"


def test_a_case_of_a_run_without_verdicts_is_a_clear_400(client: TestClient, page_settings: Settings) -> None:
    (page_settings.eval_runs_dir / "top1" / "cases.jsonl").unlink()  # as eval wrote before cases.jsonl
    case = client.get("/eval/case", params={"run": "top1", "id": "num-01"}, headers=AUTH)
    assert case.status_code == 400 and "per-question verdicts" in case.json()["error"]["message"]
    assert client.get("/eval/", headers=AUTH).status_code == 200
