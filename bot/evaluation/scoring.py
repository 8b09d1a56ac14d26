"""Deterministic scoring of answers against the question format of eval/README.md.

Cheap, explainable metrics first (string matching after normalisation); the optional LLM
judge lives elsewhere. Works on the `ask --json` objects, so it scores any run after the fact.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

from bot.answering.quantities import sums, units_fit
from bot.answering.sentences import numbers, overlap
from bot.answering.structure import COUNT
from bot.answering.verify import TOTAL, derived
from bot.core.text import MARKER, has_cjk
from bot.evaluation.guard_eval import guard_report, is_guard_set
from bot.evaluation.retrieval_eval import normalise

# A claim runs up to the citation markers that close it (a quote may hold several sentences).
_CLAIM = re.compile(r"[^\[\]]+?(?:(?:\s*\[\d{1,2}\])+|$)")
SUPPORT_OVERLAP = 0.5


def must_satisfied(answer: str, must: list[list[str]], min_groups: int | None = None) -> bool:
    text = normalise(answer)
    hits = sum(1 for group in must if any(normalise(x) and normalise(x) in text for x in group))
    need = len(must) if min_groups is None else min(min_groups, len(must))
    return hits >= need


def _retrieval_rank(item: dict[str, Any], row: dict[str, Any]) -> int | None:
    retrieved = row.get("retrieved") or []
    if item.get("gold_doc"):
        docs = [r.get("doc_id") for r in retrieved]
        return docs.index(item["gold_doc"]) + 1 if item["gold_doc"] in docs else None
    evidence = [normalise(e) for e in item.get("evidence") or [] if normalise(e)]
    for rank, r in enumerate(retrieved, 1):
        if any(e in normalise(r.get("text", "")) for e in evidence):
            return rank
    return None


def _claims(answer: str) -> list[tuple[str, list[int]]]:
    out = []
    for m in _CLAIM.finditer(answer):
        piece = m.group().strip()
        text = MARKER.sub("", piece).strip()
        if len(normalise(text)) >= 2:
            out.append((text, [int(n) for n in MARKER.findall(piece)]))
    return out


def _supported(claim: str, quotes: list[str], passages: list[str], total: bool = False, count: bool = False) -> bool:
    if not quotes:
        return False
    stated = set().union(*(numbers(p) for p in passages + quotes))
    # A total or a count asked for may state what the quotes imply, as the verifier allows:
    # sums of figures of one unit and kind, stated with that unit.
    implied = set().union(*(derived(q, total=total, count=count) for q in quotes))
    if not numbers(claim) <= stated | implied:
        return False
    if total and not all(units_fit(claim, numbers(claim) - stated, sums(q)) for q in quotes):
        return False
    if has_cjk(claim):
        # Several quotes may hold one claim together (a list naming an item from each).
        return overlap(claim, "".join(quotes)) >= SUPPORT_OVERLAP
    # An English sentence about Chinese text: its numbers and any Chinese names it quotes.
    return True


def score(item: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """One question's outcome; None marks a metric that does not apply to it."""
    answerable = item.get("answerable", True) is not False
    refused = bool(row.get("refused"))
    answer = row.get("answer", "") or ""
    correct = (
        (not refused and must_satisfied(answer, item.get("must") or [], item.get("min_groups")))
        if answerable
        else refused
    )
    evidence = [normalise(e) for e in item.get("evidence") or [] if normalise(e)]
    cites = {c.get("n"): c for c in row.get("citations") or []}
    cited_text = [normalise(c.get("text", "")) for c in cites.values()]
    has_gold = bool(evidence) or bool(item.get("gold_doc"))
    supported = None
    if answerable and not refused and evidence:
        supported = any(e in c for c in cited_text for e in evidence)
    faithful: list[bool] = []
    used: set[int] = set()
    total = bool(TOTAL.search(item.get("question", "")))
    count = bool(COUNT.search(item.get("question", "")))
    if not refused:
        for claim, marks in _claims(answer):
            quotes = [cites[n]["quote"] for n in marks if n in cites]
            passages = [cites[n]["text"] for n in marks if n in cites]
            ok = _supported(claim, quotes, passages, total, count)
            faithful.append(ok)
            if ok:
                used.update(n for n in marks if n in cites)
    timings = row.get("timings") or {}
    return {
        "answerable": answerable,
        "correct": correct,
        "refused": refused,
        "false_refusal": answerable and refused,
        "citation_supported": supported,
        "citation_precision": (len(used & set(cites)) / len(cites)) if cites and not refused else None,
        "faithfulness": (sum(faithful) / len(faithful)) if faithful else None,
        "retrieval_rank": _retrieval_rank(item, row) if answerable and has_gold else None,
        "retrieval_applies": answerable and has_gold,
        "total_ms": timings.get("total_ms"),
        "first_token_ms": timings.get("first_token_ms"),
    }


def reason(item: dict[str, Any], row: dict[str, Any], outcome: dict[str, Any]) -> str:
    """Why the verdict is what it is, in one line a reviewer can check against the answer."""
    if not outcome["answerable"]:
        return "refused, as expected" if outcome["refused"] else "answered, but it should refuse"
    if outcome["refused"]:
        return "refused, but the text answers it"
    must = item.get("must") or []
    text = normalise(row.get("answer", "") or "")
    missing = [g for g in must if not any(normalise(x) and normalise(x) in text for x in g)]
    need = len(must) if item.get("min_groups") is None else min(item["min_groups"], len(must))
    found = f"{len(must) - len(missing)} of {len(must)} required string groups found" + (
        f" (at least {need} needed)" if need != len(must) else ""
    )
    if outcome["correct"]:
        return found if must else "answered (no required strings)"
    return found + "; missing: " + "; ".join(" / ".join(f"「{x}」" for x in g) for g in missing)


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def percentile(values: list[float], q: float, digits: int = 1) -> float | None:
    """Nearest-rank percentile (None for no values); every report in the repo uses this one."""
    vals = sorted(v for v in values if v is not None)
    return round(vals[min(len(vals) - 1, int(q * len(vals)))], digits) if vals else None


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [o for o in outcomes if o["answerable"]]
    una = [o for o in outcomes if not o["answerable"]]
    ret = [o for o in outcomes if o["retrieval_applies"]]

    def recall(k: int) -> float | None:
        return _mean([o["retrieval_rank"] is not None and o["retrieval_rank"] <= k for o in ret]) if ret else None

    lat = [o["total_ms"] for o in outcomes if o["total_ms"] is not None]
    ttft = [o["first_token_ms"] for o in outcomes if o["first_token_ms"] is not None]
    return {
        "n": len(outcomes),
        "accuracy": _mean([o["correct"] for o in ans]),
        "refusal_accuracy": _mean([o["correct"] for o in una]),
        "false_refusal_rate": _mean([o["false_refusal"] for o in ans]),
        "citation_support": _mean([o["citation_supported"] for o in ans]),
        "citation_precision": _mean([o["citation_precision"] for o in outcomes]),
        "faithfulness": _mean([o["faithfulness"] for o in outcomes]),
        "recall@1": recall(1),
        "recall@3": recall(3),
        "recall@5": recall(5),
        "mrr": _mean([1 / o["retrieval_rank"] if o["retrieval_rank"] else 0.0 for o in ret]) if ret else None,
        "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
        "latency_ms_p95": percentile(lat, 0.95),
        "first_token_ms_p50": round(statistics.median(ttft), 1) if ttft else None,
        "first_token_ms_p95": percentile(ttft, 0.95),
    }


def case_row(item: dict[str, Any], row: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """One line of cases.jsonl: the verdict of one question and why, what was expected, and
    timings. The compare command and the evaluation page read these instead of scoring again."""
    keep = ("id", "type", "question", "answerable", "must", "min_groups", "evidence", "history")
    return {
        **{k: item[k] for k in keep if k in item},
        "id": str(item.get("id")),
        "type": str(item.get("type", "all")),
        "verdict": "pass" if outcome["correct"] else "fail",
        "reason": reason(item, row, outcome),
        "refused": outcome["refused"],
        "faithfulness": outcome["faithfulness"],
        "citation_supported": outcome["citation_supported"],
        "retrieval_rank": outcome["retrieval_rank"],
        "total_ms": outcome["total_ms"],
        "first_token_ms": outcome["first_token_ms"],
    }


def score_files(
    questions: list[dict[str, Any]], answers: list[dict[str, Any]], cases: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Match answers to questions by id; overall and per-type summaries plus the failures.
    `cases`, when given, receives one `case_row` per scored question."""
    by_id = {str(a.get("id")): a for a in answers}
    per_type: dict[str, list[dict[str, Any]]] = {}
    every, failures = [], []
    outcomes: dict[str, dict[str, Any]] = {}
    for item in questions:
        row = by_id.get(str(item.get("id")))
        if row is None:
            continue
        outcome = score(item, row)
        outcomes[str(item.get("id"))] = outcome
        if cases is not None:
            cases.append(case_row(item, row, outcome))
        every.append(outcome)
        per_type.setdefault(str(item.get("type", "all")), []).append(outcome)
        if not outcome["correct"]:
            failures.append(
                {
                    "id": item.get("id"),
                    "type": item.get("type"),
                    "question": item["question"],
                    "expected": item.get("must"),
                    "answer": row.get("answer"),
                    "refused": row.get("refused"),
                    "citations": [c.get("quote") for c in row.get("citations") or []],
                }
            )
    overall = summarise(every)
    report = {
        "accuracy": overall["accuracy"],
        "overall": overall,
        "by_type": {t: summarise(o) for t, o in sorted(per_type.items())},
        "failures": failures,
        "latencies": [o["total_ms"] for o in every if o["total_ms"] is not None],
    }
    if is_guard_set(questions):
        report["guard"] = guard_report(questions, by_id, outcomes)
    return report
