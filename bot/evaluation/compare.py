"""`qingshan-bot eval --compare A B`: what changed between two evaluation runs.

Reads what `eval` wrote (report.json for the figures, cases.jsonl for each question's verdict,
answers.jsonl for the answers), so nothing is scored again. Writes compare.json, compare.md and
compare.png; `gate` says whether a chosen metric dropped by more than a threshold, for CI.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bot.evaluation.runs import Run

OVERALL = (
    "accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_support",
    "citation_precision",
    "faithfulness",
    "recall@3",
    "recall@5",
    "latency_ms_p50",
    "latency_ms_p95",
    "first_token_ms_p50",
)
# For these a rise is the worse direction.
LOWER_IS_BETTER = frozenset(
    {"false_refusal_rate", "latency_ms_p50", "latency_ms_p95", "first_token_ms_p50", "first_token_ms_p95"}
)


def _delta(a: Any, b: Any) -> float | None:
    return round(float(b) - float(a), 4) if isinstance(a, int | float) and isinstance(b, int | float) else None


def type_headline(summary: dict[str, Any]) -> Any:
    """A type's one figure: accuracy, or refusal accuracy for types that should be refused."""
    return summary.get("accuracy") if summary.get("accuracy") is not None else summary.get("refusal_accuracy")


def _side(case: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    answer = answer or {}
    return {
        "verdict": case["verdict"],
        "reason": case.get("reason", ""),
        "answer": answer.get("answer", ""),
        "refused": bool(answer.get("refused")),
        "citations": [
            {"n": c.get("n"), "quote": c.get("quote", ""), "title": c.get("title", "")}
            for c in answer.get("citations") or []
        ],
        "total_ms": case.get("total_ms"),
    }


def _changed(a: Run, b: Run) -> tuple[list[dict[str, Any]], list[float]]:
    """Questions in both runs whose verdict differs, regressions first; and each question's latency change."""
    cases_a = {c["id"]: c for c in a.cases()}
    cases_b = {c["id"]: c for c in b.cases()}
    both = [i for i in cases_a if i in cases_b]
    lat = [
        float(cases_b[i]["total_ms"]) - float(cases_a[i]["total_ms"])
        for i in both
        if cases_a[i].get("total_ms") is not None and cases_b[i].get("total_ms") is not None
    ]
    ids = {i for i in both if cases_a[i]["verdict"] != cases_b[i]["verdict"]}
    ans_a, ans_b = a.answers(ids), b.answers(ids)
    rows = []
    for i in both:
        if i not in ids:
            continue
        ca, cb = cases_a[i], cases_b[i]
        rows.append(
            {
                "id": i,
                "type": ca.get("type"),
                "question": ca.get("question", ""),
                "change": "regression" if ca["verdict"] == "pass" else "fix",
                "a": _side(ca, ans_a.get(i)),
                "b": _side(cb, ans_b.get(i)),
                "latency_delta_ms": _delta(ca.get("total_ms"), cb.get("total_ms")),
            }
        )
    rows.sort(key=lambda r: (r["change"] != "regression", str(r["type"]), r["id"]))
    return rows, lat


def compare_runs(a: Run, b: Run) -> dict[str, Any]:
    overall = {
        k: {"a": a.headline(k), "b": b.headline(k), "delta": _delta(a.headline(k), b.headline(k))} for k in OVERALL
    }
    types_a, types_b = a.report.get("by_type", {}), b.report.get("by_type", {})
    by_type = {}
    for t in sorted(set(types_a) | set(types_b)):
        ha, hb = type_headline(types_a.get(t, {})), type_headline(types_b.get(t, {}))
        by_type[t] = {
            "n_a": types_a.get(t, {}).get("n", 0),
            "n_b": types_b.get(t, {}).get("n", 0),
            "a": ha,
            "b": hb,
            "delta": _delta(ha, hb),
        }
    changed, lat = _changed(a, b)
    ids_a, ids_b = {c["id"] for c in a.cases()}, {c["id"] for c in b.cases()}
    return {
        "a": {"run": a.name, "mode": a.mode, "meta": a.meta},
        "b": {"run": b.name, "mode": b.mode, "meta": b.meta},
        "questions_in_both": len(ids_a & ids_b),
        "only_in_a": sorted(ids_a - ids_b),
        "only_in_b": sorted(ids_b - ids_a),
        "overall": overall,
        "by_type": by_type,
        "regressions": sum(r["change"] == "regression" for r in changed),
        "fixes": sum(r["change"] == "fix" for r in changed),
        "changed": changed,
        "latency": {
            "per_question_delta_ms_p50": round(statistics.median(lat), 1) if lat else None,
            "per_question_delta_ms_mean": round(statistics.fmean(lat), 1) if lat else None,
        },
    }


def worsening(result: dict[str, Any], metric: str) -> float | None:
    """How much worse B is than A on `metric` (positive = worse), in the metric's own units."""
    delta = result["overall"].get(metric, {}).get("delta")
    if delta is None:
        return None
    return float(delta) if metric in LOWER_IS_BETTER else -float(delta)


def gate(result: dict[str, Any], metric: str, max_drop: float) -> tuple[bool, str]:
    worse = worsening(result, metric)
    o = result["overall"].get(metric, {})
    if worse is None:  # a gate that cannot measure must not pass: the metric may be misspelt
        missing = " and ".join(side for side in ("A", "B") if o.get(side.lower()) is None) or "A or B"
        return False, f"{metric}: not measured in run {missing}; the gate cannot pass without it"
    verdict = "fails the gate" if worse > max_drop else "within the gate"
    line = f"{metric}: {o['a']} → {o['b']} (worse by {round(worse, 4)}; allowed {max_drop}): {verdict}"
    return worse <= max_drop, line


def write_compare(result: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "compare.md").write_text(render_markdown(result), encoding="utf-8")
    return [out / "compare.json", out / "compare.md", write_chart(result, out / "compare.png")]


def _f(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:+.3f}" if abs(v) <= 1 else f"{v:+.1f}"
    return str(v)


def _v(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) and abs(v) <= 1 else str(v))


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(result: dict[str, Any]) -> str:
    a, b = result["a"]["run"], result["b"]["run"]
    lines = [
        f"# Compare: {a} → {b}\n",
        f"{result['questions_in_both']} questions in both; {result['regressions']} regressions, "
        f"{result['fixes']} fixes; per-question latency change p50 "
        f"{_v(result['latency']['per_question_delta_ms_p50'])} ms.\n",
        "## Overall\n",
        "| metric | A | B | delta |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {_v(o['a'])} | {_v(o['b'])} | {_f(o['delta'])} |" for k, o in result["overall"].items()]
    lines += ["\n## Per type (accuracy; refusal accuracy for questions to refuse)\n", "| type | n | A | B | delta |"]
    lines.append("|---|---|---|---|---|")
    lines += [
        f"| {t} | {m['n_a']}/{m['n_b']} | {_v(m['a'])} | {_v(m['b'])} | {_f(m['delta'])} |"
        for t, m in result["by_type"].items()
    ]
    lines.append("\n## Changed verdicts (regressions first)\n")
    for r in result["changed"]:
        lines.append(f"### {r['change']}: {r['id']} ({r['type']}) {_md_cell(r['question'])}\n")
        lines += ["| | A | B |", "|---|---|---|"]
        lines.append(f"| verdict | {r['a']['verdict']} | {r['b']['verdict']} |")
        lines.append(f"| why | {_md_cell(r['a']['reason'])} | {_md_cell(r['b']['reason'])} |")
        lines.append(f"| answer | {_md_cell(r['a']['answer'])} | {_md_cell(r['b']['answer'])} |")
        cites = [" ".join(f"[{c['n']}] {c['quote']}" for c in r[s]["citations"]) for s in ("a", "b")]
        lines.append(f"| citations | {_md_cell(cites[0]) or '–'} | {_md_cell(cites[1]) or '–'} |")
        lines.append(f"| latency ms | {_v(r['a']['total_ms'])} | {_v(r['b']['total_ms'])} |\n")
    if not result["changed"]:
        lines.append("No question changed its verdict.\n")
    return "\n".join(lines) + "\n"


def write_chart(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bot.evaluation.charts import _save

    types = list(result["by_type"])
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, side in enumerate(("a", "b")):
        vals = [result["by_type"][t][side] or 0 for t in types]
        ax.bar([x + i * 0.4 for x in range(len(types))], vals, 0.4, label=f"{side.upper()}: {result[side]['run']}")
    ax.set_xticks([x + 0.2 for x in range(len(types))], types, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (refusals: refusal acc.)")
    ax.set_title(f"{result['regressions']} regressions, {result['fixes']} fixes")
    ax.legend(fontsize=8)
    return _save(fig, path)
