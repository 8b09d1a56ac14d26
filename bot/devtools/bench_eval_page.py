"""`qingshan-bot bench-eval-page`: how fast /eval/ renders for a large history. Writes synthetic
run folders in the layout `eval` writes (report.json, cases.jsonl, answers.jsonl), serves only
the evaluation pages in-process (the real routes, the admin token, TestClient) and times each page.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.evaluation.review import TYPES

PASSAGE = "本段是合成的段落文字，用来测量页面的速度。" * 10


def _case(i: int, kind: str, passed: bool, rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"q-{i:04d}",
        "type": kind,
        "question": f"第{i}个合成问题：这个项目在哪一年完成了多少投资？",
        "answerable": kind not in ("unanswerable", "injection"),
        "must": [[f"{i}万元"], ["2021"]],
        "evidence": [],
        "verdict": "pass" if passed else "fail",
        "reason": "2 of 2 required groups found" if passed else "1 of 2 required groups found; missing: 「2021」",
        "refused": False,
        "faithfulness": 1.0,
        "citation_supported": passed,
        "retrieval_rank": 1,
        "total_ms": round(rng.uniform(20, 60), 1),
        "first_token_ms": None,
    }


def _answer(case: dict[str, Any]) -> dict[str, Any]:
    quote = PASSAGE[10:30]
    cite = {"n": 1, "chunk_id": "c", "doc_id": "doc", "title": "合成文档", "text": PASSAGE, "quote": quote}
    return {
        "id": case["id"],
        "question": case["question"],
        "answer": f"{quote}。[1]",
        "refused": False,
        "mode": "extractive",
        "citations": [dict(cite, start=10, end=30)],
        "retrieved": [],
        "timings": {"total_ms": case["total_ms"]},
    }


def write_runs(root: Path, questions: int, runs: int, seed: int = 19) -> list[Path]:
    rng = random.Random(seed)
    kinds = [TYPES[i % len(TYPES)] for i in range(questions)]
    folders = []
    for r in range(runs):
        folder = root / f"run-{r + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        cases = [_case(i, kinds[i], rng.random() < 0.85 + 0.02 * r, rng) for i in range(questions)]
        with (folder / "cases.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
        with (folder / "answers.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(_answer(c), ensure_ascii=False) + "\n" for c in cases)
        acc = sum(c["verdict"] == "pass" for c in cases) / questions
        by_type = {k: {"n": kinds.count(k), "accuracy": acc} for k in sorted(set(kinds))}
        overall = {"n": questions, "accuracy": round(acc, 4), "latency_ms_p50": 40.0}
        report = {"accuracy": overall["accuracy"], "overall": overall, "by_type": by_type, "mode": "extractive"}
        report["meta"] = {"created": f"2026-01-{r + 1:02d}T00:00:00+00:00"}
        (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        folders.append(folder)
    return folders


def _app(root: Path, data: Path) -> Any:
    from fastapi import FastAPI
    from pydantic import SecretStr

    from bot.evaluation.feedback import FeedbackStore
    from bot.server.admin_auth import AdminAuth
    from bot.server.eval_page import add_eval_pages

    app = FastAPI()
    app.state.admin = AdminAuth(SecretStr("bench"))
    app.state.admin_sections = []
    settings = SimpleNamespace(eval_runs_dir=root, eval_sets_dir=root)
    add_eval_pages(app, settings, SimpleNamespace(mode="extractive"), FeedbackStore(data / "fb.sqlite3"))
    return app


def run_bench(questions: int, runs: int, repeat: int = 5) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        write_runs(root, questions, runs)
        pages = {
            "grid (all questions × runs)": "/eval/",
            "grid, changed only": "/eval/?changed=1",
            "grid, one type, failures": f"/eval/?type={TYPES[0]}&verdict=fail",
            "one case": f"/eval/case?run=run-{runs}&id=q-{questions // 2:04d}",
        }
        out: dict[str, Any] = {"questions": questions, "runs": runs, "pages": {}}
        with TestClient(_app(root, Path(tmp))) as client:
            headers = {"Authorization": "Bearer bench"}
            for name, path in pages.items():
                times, size = [], 0
                for _ in range(repeat + 1):  # the first is cold: files read for the first time
                    t0 = time.perf_counter()
                    response = client.get(path, headers=headers)
                    times.append(time.perf_counter() - t0)
                    response.raise_for_status()
                    size = len(response.content)
                out["pages"][name] = {
                    "cold_s": round(times[0], 3),
                    "warm_median_s": round(statistics.median(times[1:]), 3),
                    "bytes": size,
                }
        return out
