"""Retrieval speed and quality, measured in one sitting on this machine.

Reports indexing time for the article and for the CMRC paragraphs, query latency p50/p95
after warm-up, recall, and the cold start of the `search` command (a fresh process).
Absolute times drift on shared machines: compare numbers from the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.settings import Settings
from bot.evaluation.cmrc import convert
from bot.evaluation.retrieval_eval import evaluate_retrieval
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever

ROOT = Path(__file__).resolve().parents[2]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _cold_start(argv: list[str], env: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def run_bench(cmrc_json: Path, out: Path | None = None) -> dict[str, Any]:
    if not cmrc_json.exists():
        raise UserError(f"CMRC file not found: {cmrc_json} (pass --cmrc PATH)")
    work = Path(tempfile.mkdtemp(prefix="qs-bench-"))
    try:
        report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
        base = Settings()
        # The article: index build (model load included, then excluded), query latency, recall.
        art = Settings(corpus_dir=ROOT / "corpus", index_dir=work / "article")
        retriever = Retriever(art, auto_index=False)
        t0 = time.perf_counter()
        retriever.embedder.encode(["预热"], is_query=True)
        model_load = time.perf_counter() - t0
        idx = build_index(art, retriever.embedder)
        report["article"] = {
            "model_load_s": round(model_load, 2),
            "index": idx.as_dict(),
            "chunks_per_s": round(idx.chunks / idx.seconds, 1),
        }
        questions = ROOT / "eval" / "qingshan.jsonl"
        if questions.exists():
            report["article"]["retrieval"] = evaluate_retrieval(retriever, _read_jsonl(questions))["overall"]

        # CMRC: 256 Wikipedia paragraphs, open-corpus questions.
        n_docs, n_q = convert(cmrc_json, work / "cmrc")
        cm = base.model_copy(update={"corpus_dir": work / "cmrc" / "corpus", "index_dir": work / "cmrc-index"})
        cm_ret = Retriever(cm, retriever.embedder, auto_index=False)
        idx = build_index(cm, retriever.embedder)
        cm_report = evaluate_retrieval(cm_ret, _read_jsonl(work / "cmrc" / "questions.jsonl"))
        report["cmrc"] = {
            "documents": n_docs,
            "questions": n_q,
            "index": idx.as_dict(),
            "chunks_per_s": round(idx.chunks / idx.seconds, 1),
            "retrieval": cm_report["overall"],
        }

        # Cold start of the CLI: a fresh process answering one search on the built article index.
        env = dict(os.environ, QINGSHAN_INDEX_DIR=str(work / "article"))
        exe = [sys.executable, "-m", "bot"]
        report["cold_start_s"] = {
            "help": _cold_start([*exe, "--help"], env),
            "search": _cold_start(
                [*exe, "search", Settings().profile().example_question, "--corpus", str(ROOT / "corpus")], env
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report
