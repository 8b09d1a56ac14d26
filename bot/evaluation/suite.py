"""`qingshan-bot eval-suite`: every set of a `cmrc-sets` folder through `eval`, one summary.

Each set is answered against its own corpus (indexed once, then reused); the summary gives the
headline figure of each set (accuracy where the set is answerable, refusal where it is not),
false refusals, fallbacks of an LLM mode to the extractive answer, and how far follow-ups fall
behind the same questions asked alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.jsonl import read_jsonl
from bot.core.settings import Settings


def load_manifest(sets_dir: Path) -> dict[str, Any]:
    path = sets_dir / "sets.json"
    if not path.is_file():
        raise UserError(f"{path} not found; build the sets with `qingshan-bot cmrc-sets SOURCE --out {sets_dir}`")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def headline(name: str, report: dict[str, Any]) -> dict[str, Any]:
    o = report["overall"]
    answerable = o["accuracy"] is not None
    return {
        "set": name,
        "n": o["n"],
        "metric": "accuracy" if answerable else "refusal",
        "value": o["accuracy"] if answerable else o["refusal_accuracy"],
        "false_refusal": o["false_refusal_rate"],
        "fallbacks": report.get("fallbacks"),
        "recall@5": o["recall@5"],
        "latency_ms_p50": o["latency_ms_p50"],
    }


def run_suite(
    settings: Settings, sets_dir: Path, split: str, mode: str, out: Path, only: list[str] | None, limit: int | None
) -> dict[str, Any]:
    from bot.answering.answerer import Answerer
    from bot.evaluation.runner import run_eval

    manifest = load_manifest(sets_dir)
    names = only or list(manifest["sets"])
    unknown = sorted(set(names) - set(manifest["sets"]))
    if unknown:
        raise UserError(f"no set named {', '.join(unknown)} in {sets_dir}; there are {', '.join(manifest['sets'])}")
    answerers: dict[str, Answerer] = {}
    rows = []
    for name in names:
        entry = manifest["sets"][name]
        if entry["corpus"] not in answerers:
            s = settings.model_copy(
                update={"corpus_dir": sets_dir / entry["corpus"], "index_dir": sets_dir / entry["index"]}
            )
            answerers[entry["corpus"]] = Answerer(s)
        questions = [q for _, q in read_jsonl(sets_dir / entry[split]["questions"], "question set")][:limit]
        if not questions:
            continue
        report = run_eval(answerers[entry["corpus"]], questions, mode, out / name, progress=False)
        rows.append(headline(name, report))
    summary = {"split": split, "mode": mode, "sets": rows, "followup_gap": _followup_gap(rows)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "summary.md").write_text(render(summary), encoding="utf-8")
    return summary


def _followup_gap(rows: list[dict[str, Any]]) -> float | None:
    by = {r["set"]: r["value"] for r in rows}
    if by.get("followup") is None or by.get("followup-alone") is None:
        return None
    return round(by["followup-alone"] - by["followup"], 4)


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation suite ({summary['split']}, mode {summary['mode']})",
        "",
        "| set | n | metric | value | false refusal | fallbacks | recall@5 | p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["sets"]:
        cells = [r["set"], r["n"], r["metric"], r["value"], r["false_refusal"], r["fallbacks"]]
        cells += [r["recall@5"], r["latency_ms_p50"]]
        lines.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    if summary["followup_gap"] is not None:
        lines += ["", f"Follow-ups fall behind the same questions asked alone by {summary['followup_gap']}."]
    return "\n".join(lines) + "\n"
