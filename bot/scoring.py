"""Deterministic answer scoring against the question format of eval/README.md."""

from __future__ import annotations

from typing import Any

from bot.retrieval_eval import normalise


def must_satisfied(answer: str, must: list[list[str]], min_groups: int | None = None) -> bool:
    text = normalise(answer)
    hits = sum(1 for group in must if any(normalise(x) and normalise(x) in text for x in group))
    need = len(must) if min_groups is None else min(min_groups, len(must))
    return hits >= need


def score(item: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """One question's outcome: correct / refused-as-expected / false refusal, citation support."""
    answerable = item.get("answerable", True) is not False
    refused = bool(row.get("refused"))
    correct = (
        (not refused and must_satisfied(row.get("answer", ""), item.get("must") or [], item.get("min_groups")))
        if answerable
        else refused
    )
    evidence = [normalise(e) for e in item.get("evidence") or [] if normalise(e)]
    cited = [normalise(c.get("text", "")) for c in row.get("citations") or []]
    supported = bool(evidence) and any(e in c for c in cited for e in evidence)
    return {
        "answerable": answerable,
        "correct": correct,
        "refused": refused,
        "false_refusal": answerable and refused,
        "citation_supported": supported if answerable and not refused and evidence else None,
    }


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [o for o in outcomes if o["answerable"]]
    una = [o for o in outcomes if not o["answerable"]]
    cit = [o["citation_supported"] for o in ans if o["citation_supported"] is not None]
    return {
        "n": len(outcomes),
        "accuracy": round(sum(o["correct"] for o in ans) / len(ans), 4) if ans else None,
        "refusal_accuracy": round(sum(o["correct"] for o in una) / len(una), 4) if una else None,
        "false_refusal_rate": round(sum(o["false_refusal"] for o in ans) / len(ans), 4) if ans else None,
        "citation_support": round(sum(cit) / len(cit), 4) if cit else None,
    }


def score_files(questions: list[dict[str, Any]], answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Match answers to questions by id; overall and per-type summaries plus the failures."""
    by_id = {str(a.get("id")): a for a in answers}
    per_type: dict[str, list[dict[str, Any]]] = {}
    every, failures = [], []
    for item in questions:
        row = by_id.get(str(item.get("id")))
        if row is None:
            continue
        outcome = score(item, row)
        every.append(outcome)
        per_type.setdefault(str(item.get("type", "all")), []).append(outcome)
        if not outcome["correct"]:
            failures.append(
                {
                    "id": item.get("id"),
                    "type": item.get("type"),
                    "question": item["question"],
                    "answer": row.get("answer"),
                    "refused": row.get("refused"),
                }
            )
    return {
        "overall": summarise(every),
        "by_type": {t: summarise(o) for t, o in sorted(per_type.items())},
        "failures": failures,
    }
