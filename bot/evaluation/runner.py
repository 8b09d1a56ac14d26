"""`qingshan-bot eval`: run a question set through one or more answer modes and report.

Writes, into the output folder: answers.jsonl (or answers-<mode>.jsonl for several modes, each
line the `ask --json` object), report.json (top-level `accuracy`; per mode when several),
report.md (summary, per-type table, worst failures) and PNG charts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.answering.answerer import Answerer
from bot.core.jsonl import parse_history, write_jsonl
from bot.core.text import clean_question
from bot.evaluation.guard_eval import render_guard
from bot.evaluation.scoring import score_files

_TABLE_KEYS = (
    "accuracy",
    "refusal_accuracy",
    "false_refusal_rate",
    "citation_support",
    "citation_precision",
    "faithfulness",
    "recall@1",
    "recall@3",
    "recall@5",
    "mrr",
    "latency_ms_p50",
    "latency_ms_p95",
    "first_token_ms_p50",
)


def modes_to_run(answerer: Answerer, mode: str) -> list[str]:
    """`all` = every mode that can run here: extractive always, local if its model is present,
    openai if a server is configured."""
    if mode != "all":
        return [answerer.resolve_mode(mode)]
    from bot.models.llm import local_available

    return [
        m
        for m, ok in (
            ("extractive", True),
            ("local", local_available(answerer.settings)),
            ("openai", bool(answerer.settings.openai_base_url)),
        )
        if ok
    ]


class Cancelled(Exception):
    """An evaluation stopped on request before its last question (nothing is reported)."""


# Settings that change answers: recorded in report.json so a run says what it measured.
_RUN_SETTINGS = ("ranker", "top_k", "chunk_size", "chunk_overlap", "embedding_model", "dense_weight")


def run_meta(answerer: Answerer, modes: list[str], extra: dict[str, Any] | None) -> dict[str, Any]:
    import datetime

    s = answerer.settings
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "modes": modes,
        "settings": {k: str(getattr(s, k)) for k in _RUN_SETTINGS if hasattr(s, k)},
        **(extra or {}),
    }


def _answer_all(
    answerer: Answerer, questions: list[dict[str, Any]], m: str, path: Path, progress: bool, hooks: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    from tqdm import tqdm

    rows = []
    fallbacks = 0  # LLM answers replaced by the extractive one (the model added nothing verifiable)
    on_step, cancel = hooks.get("on_step"), hooks.get("cancel")
    with path.open("w", encoding="utf-8") as fh:
        for i, item in enumerate(tqdm(questions, desc=f"eval {m}", unit="q", disable=not progress)):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"cancelled after {i} of {len(questions)} questions")
            history = parse_history(item.get("history"), f"question {item.get('id')}")
            question = clean_question(item["question"], answerer.settings.max_query_chars)
            ans = answerer.answer(question, history, m)
            fallbacks += any("answered extractively" in note for note in ans.notes)
            row = ans.as_dict(item.get("id"))
            rows.append(row)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            if on_step is not None:
                on_step(m, i + 1, len(questions))
    return rows, fallbacks


def run_eval(
    answerer: Answerer,
    questions: list[dict[str, Any]],
    mode: str,
    out: Path,
    progress: bool = True,
    judge: bool = False,
    meta: dict[str, Any] | None = None,
    hooks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`hooks`: `on_step(mode, done, total)` after each answer, `cancel` (a threading.Event)
    checked before each question; a set event raises `Cancelled`."""
    out.mkdir(parents=True, exist_ok=True)
    modes = modes_to_run(answerer, mode)
    reports: dict[str, Any] = {}
    for m in modes:
        answerer.warm_up(m)
        suffix = "" if len(modes) == 1 else f"-{m}"
        rows, fallbacks = _answer_all(answerer, questions, m, out / f"answers{suffix}.jsonl", progress, hooks or {})
        cases: list[dict[str, Any]] = []
        report = score_files(questions, rows, cases)
        write_jsonl(out / f"cases{suffix}.jsonl", cases)
        report["fallbacks"] = fallbacks if m != "extractive" else None
        if judge and m != "extractive":
            from bot.evaluation.judge import judge_rows

            report["llm_judge"] = judge_rows(answerer.backend(m), rows)
        reports[m] = report
    final: dict[str, Any] = (
        dict(reports[modes[0]], mode=modes[0])
        if len(modes) == 1
        else {"accuracy": {m: r["accuracy"] for m, r in reports.items()}, "modes": reports}
    )
    final["meta"] = run_meta(answerer, modes, meta)
    (out / "report.json").write_text(json.dumps(final, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(reports, len(questions)), encoding="utf-8")
    from bot.evaluation.charts import write_charts

    write_charts(reports, out)
    return final


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) and v <= 1 else f"{v}")


def render_markdown(reports: dict[str, Any], n: int) -> str:
    lines = [f"# Evaluation report\n\n{n} questions; modes: {', '.join(reports)}.\n", "## Summary\n"]
    lines.append("| metric | " + " | ".join(reports) + " |")
    lines.append("|---|" + "---|" * len(reports))
    for key in _TABLE_KEYS:
        lines.append(f"| {key} | " + " | ".join(_fmt(r["overall"].get(key)) for r in reports.values()) + " |")
    lines.append("| fallbacks to extractive | " + " | ".join(_fmt(r.get("fallbacks")) for r in reports.values()) + " |")
    for mode, report in reports.items():
        lines.append(f"\n## Per type ({mode})\n")
        lines.append("| type | n | accuracy | refusal | false refusal | citation support | faithfulness | recall@3 |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for t, m in report["by_type"].items():
            lines.append(
                f"| {t} | {m['n']} | {_fmt(m['accuracy'])} | {_fmt(m['refusal_accuracy'])} | "
                f"{_fmt(m['false_refusal_rate'])} | {_fmt(m['citation_support'])} | "
                f"{_fmt(m['faithfulness'])} | {_fmt(m['recall@3'])} |"
            )
        if "guard" in report:
            lines += render_guard(report["guard"])
        lines.append(f"\n## Failures ({mode}, first 15 of {len(report['failures'])})\n")
        for f in report["failures"][:15]:
            lines.append(
                f"- **{f['id']}** ({f['type']}) {f['question']}\n  - expected: `{f['expected']}`"
                f"\n  - answer{' (refused)' if f['refused'] else ''}: {f['answer']}"
            )
            for q in f["citations"]:
                lines.append(f"  - cited: {q}")
    return "\n".join(lines) + "\n"
