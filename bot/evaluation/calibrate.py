"""`qingshan-bot calibrate`: fit the relevance signal (bot/answering/relevance.py) on the dev split
of a `cmrc-sets` folder and write its coefficients and threshold, with what they were fitted on.

Questions of `open` are the ones the text answers; those of `missing-fact` and `missing-topic`
the ones it does not. `--also FILE` adds a question set over the configured corpus (the
article's `eval/qingshan.jsonl`): its answerable questions are positives of their own corpus,
its unanswerable ones negatives. A follow-up is searched as the extractive mode searches it.

The threshold is the highest whose false refusals stay within `max_false_refusal` on every
corpus's answerable questions, because refusing a question the text answers is the worse
mistake. The corpora differ in how people ask: CMRC questions reuse the paragraph's words,
while the article's are colloquial. A threshold fitted on one of them alone refused 13% of
the other's. Held-out questions are never read here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.answering.relevance import FEATURES, MODEL
from bot.core.jsonl import parse_history, read_jsonl
from bot.core.settings import Settings
from bot.evaluation.suite import load_manifest

if TYPE_CHECKING:
    from bot.answering.answerer import Answerer

POSITIVE, NEGATIVE = ("open",), ("missing-fact", "missing-topic")


def collect(settings: Settings, sets_dir: Path, also: tuple[Path, ...] = ()) -> list[tuple[str, dict[str, float]]]:
    """(set name, features) for each dev question whose extractive pick is not refused anyway."""
    from bot.answering.answerer import Answerer

    manifest = load_manifest(sets_dir)
    out = []
    answerers: dict[str, Answerer] = {}
    for name in POSITIVE + NEGATIVE:
        entry = manifest["sets"][name]
        if entry["corpus"] not in answerers:
            # The gate off: the features of every pick, not only of those it lets through.
            s = settings.model_copy(
                update={
                    "corpus_dir": sets_dir / entry["corpus"],
                    "index_dir": sets_dir / entry["index"],
                    "relevance_gate": False,
                }
            )
            answerers[entry["corpus"]] = Answerer(s)
        a = answerers[entry["corpus"]]
        for _, item in read_jsonl(sets_dir / entry["dev"]["questions"], "question set"):
            if (features := _features(a, item["question"], item["question"], settings.top_k)) is not None:
                out.append((name, features))
    for path in also:
        out += _collect_file(Answerer(settings.model_copy(update={"relevance_gate": False})), path, settings.top_k)
    return out


def _collect_file(a: Answerer, path: Path, k: int) -> list[tuple[str, dict[str, float]]]:
    from bot.answering.conversation import rule_rewrite

    out = []
    for _, item in read_jsonl(path, "question set"):
        q = item["question"]
        query = rule_rewrite(q, parse_history(item.get("history"), f"question {item.get('id')}"))
        if (features := _features(a, query, q, k)) is not None:
            kind = "answerable" if item.get("answerable", True) else "unanswerable"
            out.append((f"{path.stem}:{kind}", features))
    return out


def _features(a: Answerer, query: str, asked: str, k: int) -> dict[str, float] | None:
    """The relevance features of the extractive pick for one question; None when it is refused anyway."""
    passages = a.retriever.search(query, k=k)
    pick = a.picker.pick(query, passages, "", asked)
    return None if pick.refused else a.picker.relevance(query, pick.best_first[0], passages)


def _positive(name: str) -> bool:
    return name in POSITIVE or name.endswith(":answerable")


def fit(rows: list[tuple[str, dict[str, float]]], max_false_refusal: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[f[k] for k in FEATURES] for _, f in rows])
    y = np.array([_positive(name) for name, _ in rows])
    weight = np.where(y, 1.0, y.sum() / max(1, (~y).sum()))  # both classes count the same
    m = LogisticRegression(C=10.0, max_iter=5000).fit(x, y, sample_weight=weight)
    p = m.predict_proba(x)[:, 1]
    names = np.array([name for name, _ in rows])
    groups = sorted(set(names.tolist()))
    positives = [n for n in groups if _positive(n)]

    def within(t: float) -> bool:
        return all(np.mean(p[names == n] < t) <= max_false_refusal for n in positives)

    threshold = max((t for t in np.linspace(0.0, 0.6, 121) if within(t)), default=0.0)
    rates = {n: round(float(np.mean(p[names == n] < threshold)), 4) for n in groups}
    return {
        "coef": {k: round(float(c), 5) for k, c in zip(FEATURES, m.coef_[0], strict=True)},
        "intercept": round(float(m.intercept_[0]), 5),
        "threshold": round(float(threshold), 4),
        "refused_share_on_dev": rates,
        "max_false_refusal": max_false_refusal,
    }


def calibrate(
    settings: Settings, sets_dir: Path, max_false_refusal: float, also: tuple[Path, ...] = (), out: Path = MODEL
) -> dict[str, Any]:
    rows = collect(settings, sets_dir, also)
    model = fit(rows, max_false_refusal)
    extra = "".join(f" --also {p}" for p in also)
    model["fitted_on"] = {
        "sets": f"{sets_dir.name}: dev split of {', '.join(POSITIVE + NEGATIVE)}"
        + "".join(f"; {p} over the configured corpus" for p in also),
        "source": load_manifest(sets_dir)["source"].split("/")[-1],
        "questions": len(rows),
        "when": time.strftime("%Y-%m-%d"),
        "command": f"qingshan-bot calibrate --sets {sets_dir} --max-false-refusal {max_false_refusal}{extra}",
    }
    out.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return model
