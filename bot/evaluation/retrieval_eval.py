"""Retrieval quality on a question set: recall@1/3/5 and MRR, overall and per question type.

A retrieved passage counts as a hit when it contains one of the question's `evidence` strings
(compared after NFKC, lower-casing and keeping letters and digits only).
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections import defaultdict
from typing import Any

from bot.retrieval.retriever import Retriever

_KEEP = re.compile(r"[^\w]|_", re.UNICODE)


def normalise(text: str) -> str:
    return _KEEP.sub("", unicodedata.normalize("NFKC", text).lower())


def first_hit(passages: list[str], evidence: list[str]) -> int | None:
    ev = [normalise(e) for e in evidence if normalise(e)]
    for rank, text in enumerate(passages, 1):
        t = normalise(text)
        if any(e in t for e in ev):
            return rank
    return None


def retrieval_query(item: dict[str, Any]) -> str:
    """A follow-up is searched together with the user's previous turn (the cheap rewrite rule;
    the answerer condenses properly)."""
    users = [h.get("content", "") for h in item.get("history") or [] if h.get("role") == "user"]
    return f"{users[-1]} {item['question']}" if users else str(item["question"])


def evaluate_retrieval(retriever: Retriever, items: list[dict[str, Any]], k: int = 5) -> dict[str, Any]:
    retriever.warm_up()
    rows: dict[str, list[tuple[int | None, float]]] = defaultdict(list)
    misses = []
    for item in items:
        evidence = item.get("evidence") or []
        if (not evidence and not item.get("gold_doc")) or item.get("answerable", True) is False:
            continue
        t0 = time.perf_counter()
        passages = retriever.search(retrieval_query(item), k=k)
        ms = (time.perf_counter() - t0) * 1000
        if item.get("gold_doc"):  # paragraph-level recall (CMRC): the gold document is retrieved
            docs = [p.chunk.doc_id for p in passages]
            hit = docs.index(item["gold_doc"]) + 1 if item["gold_doc"] in docs else None
        else:
            hit = first_hit([p.chunk.text for p in passages], evidence)
        rows[str(item.get("type", "all"))].append((hit, ms))
        if hit is None or hit > 3:
            misses.append({"id": item.get("id"), "question": item["question"], "rank": hit})
    every = [r for rs in rows.values() for r in rs]
    report = {
        "overall": _metrics(every),
        "by_type": {t: _metrics(rs) for t, rs in sorted(rows.items())},
        "misses": misses,
    }
    return report


def _metrics(rows: list[tuple[int | None, float]]) -> dict[str, Any]:
    n = len(rows)
    if not n:
        return {"n": 0}
    hits = [h for h, _ in rows]
    ms = sorted(m for _, m in rows)
    return {
        "n": n,
        "recall@1": round(sum(1 for h in hits if h is not None and h <= 1) / n, 4),
        "recall@3": round(sum(1 for h in hits if h is not None and h <= 3) / n, 4),
        "recall@5": round(sum(1 for h in hits if h is not None and h <= 5) / n, 4),
        "mrr": round(sum(1 / h for h in hits if h) / n, 4),
        "latency_ms_p50": round(statistics.median(ms), 2),
        "latency_ms_p95": round(ms[min(n - 1, int(0.95 * n))], 2),
    }


def format_report(report: dict[str, Any]) -> str:
    lines = ["type            n   R@1    R@3    R@5    MRR    p50ms"]
    for name, m in [("ALL", report["overall"]), *report["by_type"].items()]:
        if m.get("n"):
            lines.append(
                f"{name:<14}{m['n']:>4}  {m['recall@1']:.3f}  {m['recall@3']:.3f}  "
                f"{m['recall@5']:.3f}  {m['mrr']:.3f}  {m['latency_ms_p50']:.1f}"
            )
    for miss in report["misses"]:
        lines.append(f"miss@3 {miss['id']}: {miss['question']} (rank {miss['rank']})")
    return "\n".join(lines)
