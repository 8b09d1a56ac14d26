"""`qingshan-bot bench`: qingshan-bot against a tutorial LangChain RAG pipeline, in one sitting.

Every speed claim is a ratio from this one run (same questions, model and machine): absolute
times drift on shared machines. Each system answers in its own process (`bot/devtools/bench_worker.py`),
one after the other, so none slows another and each peak RSS is its own. Also measured here:
indexing throughput, retrieval latency at 1k/10k/100k chunks, and cold starts.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.evaluation.scoring import percentile, score_files

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("peer", "local", "extractive")
# `local` runs the model in its worker process; `local_inprocess` is the same model in the
# answering process, run only to measure what the worker costs (`--systems`).
ALL_SYSTEMS = (*SYSTEMS, "local_inprocess")
DEFAULT_CMRC = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"


def select(items: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """A subset that keeps every question type: round-robin over types, in file order."""
    if not limit or limit >= len(items):
        return items
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_type.setdefault(str(item.get("type", "all")), []).append(item)
    picked: list[dict[str, Any]] = []
    while len(picked) < limit:
        for group in by_type.values():
            if group and len(picked) < limit:
                picked.append(group.pop(0))
    order = {id(x): i for i, x in enumerate(items)}
    return sorted(picked, key=lambda x: order[id(x)])


def _device() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"cpu: {os.cpu_count()} cores, {platform.processor() or platform.machine()}"


def run_system(system: str, questions: Path, work: Path) -> dict[str, Any]:
    out = work / f"{system}.json"
    argv = [sys.executable, "-m", "bot.devtools.bench_worker", system, str(questions), str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {system} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(out.read_text(encoding="utf-8")))


def summarise_system(items: list[dict[str, Any]], raw: dict[str, Any]) -> dict[str, Any]:
    scored = score_files(items, raw["rows"])["overall"]
    ttft = [r["timings"]["first_token_ms"] for r in raw["rows"]]
    total = [r["timings"]["total_ms"] for r in raw["rows"]]
    return {
        "accuracy": scored["accuracy"],
        "citation_support": scored["citation_support"],
        "refusal": scored["refusal_accuracy"],
        "false_refusal": scored["false_refusal_rate"],
        "first_token_ms": {"p50": percentile(ttft, 0.5), "p95": percentile(ttft, 0.95)},
        "total_ms": {"p50": percentile(total, 0.5), "p95": percentile(total, 0.95)},
        "prompt_tokens_mean": raw["prompt_tokens_mean"],
        "peak_rss_mib": raw["peak_rss_mib"],
        "seconds": raw["seconds"],
    }


def indexing(work: Path, cmrc: Path | None, embedder: Any) -> dict[str, Any]:
    from bot.core.settings import Settings
    from bot.evaluation.cmrc import convert
    from bot.retrieval.indexer import build_index

    out: dict[str, Any] = {}
    embedder.encode(["预热"], is_query=False)  # model load is cold start, not indexing
    art = Settings(corpus_dir=ROOT / "corpus", index_dir=work / "idx-article")
    rep = build_index(art, embedder)
    out["article"] = {
        "chunks": rep.chunks,
        "seconds": round(rep.seconds, 2),
        "chunks_per_s": round(rep.chunks / rep.seconds, 1),
    }
    if cmrc and cmrc.exists():
        convert(cmrc, work / "cmrc")
        cm = Settings(corpus_dir=work / "cmrc" / "corpus", index_dir=work / "idx-cmrc")
        rep = build_index(cm, embedder)
        out["cmrc_trial"] = {
            "chunks": rep.chunks,
            "seconds": round(rep.seconds, 2),
            "chunks_per_s": round(rep.chunks / rep.seconds, 1),
        }
    else:
        out["cmrc_trial"] = {"skipped": f"{cmrc} not found"}
    return out


def _source_texts(work: Path) -> tuple[list[str], list[str]]:
    """Sentences to build synthetic chunks from, and questions to ask: CMRC's if converted."""
    corpus = work / "cmrc" / "corpus"
    files = sorted(corpus.glob("*.txt")) if corpus.exists() else [ROOT / "corpus" / "qingshan-article.md"]
    sentences = [s + "。" for f in files for s in f.read_text(encoding="utf-8").split("。") if len(s.strip()) > 8]
    qfile = work / "cmrc" / "questions.jsonl"
    if not qfile.exists():
        qfile = ROOT / "eval" / "qingshan.jsonl"
    questions = [json.loads(x)["question"] for x in qfile.read_text(encoding="utf-8").splitlines() if x.strip()]
    return sentences, questions


def retrieval_at_scale(work: Path, scales: list[int], embedder: Any) -> dict[str, Any]:
    """Synthetic indexes of n chunks: texts are 2-4 source sentences recombined; vectors are the
    real embeddings of 1,000 source chunks plus small noise (embedding 100k chunks on 2 cores
    would take hours, and search time depends on the index's size, not on what it says)."""
    import numpy as np

    sentences, questions = _source_texts(work)
    if len(sentences) < 10:
        raise RuntimeError(f"too few source sentences ({len(sentences)}) for synthetic chunks")
    rng = random.Random(7)
    seeds = ["".join(rng.sample(sentences, 3)) for _ in range(1000)]
    base = np.asarray(embedder.encode(seeds, is_query=False), dtype=np.float32)
    out: dict[str, Any] = {}
    for n in scales:
        s, build_s = _synthetic_index(work / f"idx-{n}", n, base, sentences, rng, embedder)
        out[str(n)] = {"chunks": n, "write_s": round(build_s, 1), **_time_searches(s, embedder, questions[:120])}
        shutil.rmtree(work / f"idx-{n}", ignore_errors=True)
    return out


def _synthetic_index(
    folder: Path, n: int, base: Any, sentences: list[str], rng: random.Random, embedder: Any
) -> tuple[Any, float]:
    """An index of n synthetic chunks in `folder`: its settings, and the seconds writing took."""
    import numpy as np

    from bot.core.settings import Settings
    from bot.ingest.chunking import Chunk
    from bot.models.embedder import chroma_embedding_function
    from bot.retrieval.store import MANIFEST_FORMAT, Store, build_signature, chunk_metadata

    s = Settings(corpus_dir=folder.parent / "none", index_dir=folder)
    store = Store(s)
    name = store.new_version_name()
    col = store.create_version(name, chroma_embedding_function(embedder))
    nrng = np.random.default_rng(n)
    t0 = time.perf_counter()
    for lo in range(0, n, 5000):
        hi = min(n, lo + 5000)
        pick = nrng.integers(0, len(base), hi - lo)
        vecs = base[pick] + nrng.normal(0, 0.02, (hi - lo, base.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        chunks = []
        for i in range(lo, hi):
            text = "".join(rng.sample(sentences, rng.randint(2, 4)))
            chunks.append(Chunk(f"syn-{i:06d}", f"doc-{i // 20}", "synthetic", text, 0, len(text), i % 20))
        store.write_batches(
            col,
            ids=[c.id for c in chunks],
            embeddings=list(vecs),
            documents=[c.text for c in chunks],
            metadatas=[chunk_metadata(c) for c in chunks],
        )
    build_s = time.perf_counter() - t0
    manifest = {
        "format": MANIFEST_FORMAT,
        "build": build_signature(s),
        "embedding_dim": int(base.shape[1]),
        "corpus_hash": f"synthetic-{n}",
        "documents": {},
        "chunk_count": n,
        "version": name,
    }
    store.publish(name, manifest)
    return s, build_s


def _time_searches(s: Any, embedder: Any, asked: list[str]) -> dict[str, Any]:
    """Load time and search latency over the index of settings `s` (the first 10 questions warm up)."""
    from bot.retrieval.retriever import Retriever

    retriever = Retriever(s, embedder, auto_index=False)
    embedder.clear_query_cache()  # every scale embeds its queries afresh
    t0 = time.perf_counter()
    retriever.load()
    load_s = time.perf_counter() - t0
    for q in asked[:10]:  # warm-up; these are not timed, the other questions are new to the cache
        retriever.search(q)
    lat = []
    for q in asked[10:]:
        t0 = time.perf_counter()
        retriever.search(q)
        lat.append((time.perf_counter() - t0) * 1000)
    return {
        "load_s": round(load_s, 1),
        "queries": len(lat),
        "p50_ms": percentile(lat, 0.5),
        "p95_ms": percentile(lat, 0.95),
    }


def cold_starts(question: str) -> dict[str, Any]:
    from bot.devtools.bench_http import post_json
    from bot.devtools.screenshots import bot_server, free_port

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "ask", question, "--mode", "local"], check=True, capture_output=True)
    out["ask_local_to_answer_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "ask", question, "--mode", "extractive"], check=True, capture_output=True
    )
    out["ask_extractive_to_answer_s"] = round(time.perf_counter() - t0, 2)
    procs: list[Any] = []
    t0 = time.perf_counter()
    with bot_server(["--mode", "local"], free_port(), procs=procs) as server:
        out["serve_local_to_ready_s"] = round(time.perf_counter() - t0, 2)
        for _ in range(3):  # a few answers, so the peak includes answering
            post_json(server + "/api/ask", {"question": question})
        status = Path(f"/proc/{procs[0].pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        out["serve_local_peak_rss_mib"] = round(int(hwm.split()[1]) / 1024, 1)
    return out


def run_bench(
    questions: Path,
    limit: int | None,
    out: Path,
    cmrc: Path | None = DEFAULT_CMRC,
    scales: tuple[int, ...] = (1000, 10000, 100000),
    systems: tuple[str, ...] = SYSTEMS,
) -> dict[str, Any]:
    from bot.core.settings import Settings
    from bot.models.embedder import Embedder

    items = select([json.loads(x) for x in questions.read_text(encoding="utf-8").splitlines() if x.strip()], limit)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="qs-bench-"))
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "device": _device(),
        "questions": {"file": str(questions), "n": len(items)},
        "systems": {},
    }
    try:
        subset = work / "questions.jsonl"
        subset.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
        for system in systems:
            raw = run_system(system, subset, work)
            report["systems"][system] = summarise_system(items, raw)
            (out / f"answers-{system}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in raw["rows"]), encoding="utf-8"
            )
        s = report["systems"]
        if "peer" in s and "local" in s:
            report["ratios_vs_peer"] = {
                "local_first_token_p50": _ratio(
                    s["local"]["first_token_ms"]["p50"], s["peer"]["first_token_ms"]["p50"]
                ),
                "local_accuracy": _ratio(s["local"]["accuracy"], s["peer"]["accuracy"]),
                "extractive_first_token_p50": _ratio(
                    s.get("extractive", {}).get("first_token_ms", {}).get("p50"), s["peer"]["first_token_ms"]["p50"]
                ),
                "local_peak_rss": _ratio(s["local"]["peak_rss_mib"], s["peer"]["peak_rss_mib"]),
            }
        if "local" in s and "local_inprocess" in s:
            report["worker_vs_inprocess"] = worker_cost(out)
        embedder = Embedder(Settings())
        report["indexing"] = indexing(work, cmrc, embedder)
        report["retrieval_at_scale"] = retrieval_at_scale(work, list(scales), embedder)
        report["cold_start"] = cold_starts(items[0]["question"])
        if "peer" in s:
            report["cold_start"]["serve_local_peak_rss_vs_peer"] = _ratio(
                report["cold_start"]["serve_local_peak_rss_mib"], s["peer"]["peak_rss_mib"]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(render_markdown(report), encoding="utf-8")
    _chart(report, out / "bench.png")
    return report


def worker_cost(out: Path) -> dict[str, Any]:
    """First-token cost of the worker process: p50s and the per-question median difference."""
    rows = {}
    for system in ("local", "local_inprocess"):
        lines = (out / f"answers-{system}.jsonl").read_text(encoding="utf-8").splitlines()
        rows[system] = {r["id"]: r["timings"]["first_token_ms"] for r in map(json.loads, lines)}
    diffs = [rows["local"][i] - rows["local_inprocess"][i] for i in rows["local"] if i in rows["local_inprocess"]]
    p50 = {k: percentile(list(v.values()), 0.5) or 0.0 for k, v in rows.items()}
    return {
        "first_token_p50_ms": p50,
        "first_token_p50_delta_ms": round(p50["local"] - p50["local_inprocess"], 1),
        "first_token_median_paired_delta_ms": percentile(diffs, 0.5),
        "questions": len(diffs),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _f(v: Any, unit: str = "") -> str:
    return "–" if v is None else f"{v}{unit}"


def render_markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# qingshan-bot bench ({r['when']}, {r['device']}, {r['questions']['n']} questions)",
        "",
        "| System | Accuracy | Citation support | Refusal | First token p50 / p95 (ms) | Total p50 / p95 (ms) "
        "| Prompt tokens | Peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["systems"].items():
        lines.append(
            f"| {name} | {_f(s['accuracy'])} | {_f(s['citation_support'])} | {_f(s['refusal'])} | "
            f"{_f(s['first_token_ms']['p50'])} / {_f(s['first_token_ms']['p95'])} | "
            f"{_f(s['total_ms']['p50'])} / {_f(s['total_ms']['p95'])} | {s['prompt_tokens_mean']} | "
            f"{s['peak_rss_mib']} |"
        )
    if "ratios_vs_peer" in r:
        lines += [
            "",
            "Ratios, qingshan-bot ÷ peer: " + ", ".join(f"{k} {_f(v)}" for k, v in r["ratios_vs_peer"].items()),
        ]
    lines += ["", "Indexing: " + json.dumps(r.get("indexing", {}), ensure_ascii=False)]
    lines += ["", "| Chunks | Search p50 (ms) | p95 (ms) | Index load (s) |", "|---|---|---|---|"]
    for n, v in r.get("retrieval_at_scale", {}).items():
        lines.append(f"| {n} | {v['p50_ms']} | {v['p95_ms']} | {v['load_s']} |")
    lines += ["", "Cold start: " + json.dumps(r.get("cold_start", {}), ensure_ascii=False), ""]
    return "\n".join(lines)


def _chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(r["systems"])
    ttft = [(r["systems"][n]["first_token_ms"]["p50"] or 0) / 1000 for n in names]
    acc = [r["systems"][n]["accuracy"] or 0 for n in names]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.bar(names, ttft, color=["#999", "#2f7d5b", "#7fb89a"][: len(names)])
    a.set_title("time to first token p50 (s)")
    b.bar(names, acc, color=["#999", "#2f7d5b", "#7fb89a"][: len(names)])
    b.set_ylim(0, 1)
    b.set_title("accuracy (answerable)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
