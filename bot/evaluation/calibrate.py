"""`qingshan-bot calibrate`: fit the relevance signal (bot/answering/relevance.py) on the dev split
of a `cmrc-sets` folder and write its coefficients and threshold, with what they were fitted on.

Questions of `open` are the ones the text answers; those of `missing-fact` and `missing-topic`
the ones it does not. The threshold is the highest whose false refusals on `open` stay within
`max_false_refusal`: refusing a question the text answers is the worse mistake. Held-out
questions are never read here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.relevance import FEATURES, MODEL
from bot.core.jsonl import read_jsonl
from bot.core.settings import Settings
from bot.evaluation.suite import load_manifest

POSITIVE, NEGATIVE = ("open",), ("missing-fact", "missing-topic")


def collect(settings: Settings, sets_dir: Path) -> list[tuple[str, dict[str, float]]]:
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
            passages = a.retriever.search(item["question"], k=settings.top_k)
            pick = a.picker.pick(item["question"], passages, "", item["question"])
            if not pick.refused:
                out.append((name, a.picker.relevance(item["question"], pick.best_first[0], passages)))
    return out


def fit(rows: list[tuple[str, dict[str, float]]], max_false_refusal: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[f[k] for k in FEATURES] for _, f in rows])
    y = np.array([name in POSITIVE for name, _ in rows])
    weight = np.where(y, 1.0, y.sum() / max(1, (~y).sum()))  # both classes count the same
    m = LogisticRegression(C=10.0, max_iter=5000).fit(x, y, sample_weight=weight)
    p = m.predict_proba(x)[:, 1]
    names = np.array([name for name, _ in rows])
    threshold = max(
        (t for t in np.linspace(0.0, 0.6, 121) if np.mean(p[names == "open"] < t) <= max_false_refusal), default=0.0
    )
    rates = {n: round(float(np.mean(p[names == n] < threshold)), 4) for n in POSITIVE + NEGATIVE}
    return {
        "coef": {k: round(float(c), 5) for k, c in zip(FEATURES, m.coef_[0], strict=True)},
        "intercept": round(float(m.intercept_[0]), 5),
        "threshold": round(float(threshold), 4),
        "refused_share_on_dev": rates,
        "max_false_refusal": max_false_refusal,
    }


def calibrate(settings: Settings, sets_dir: Path, max_false_refusal: float, out: Path = MODEL) -> dict[str, Any]:
    rows = collect(settings, sets_dir)
    model = fit(rows, max_false_refusal)
    model["fitted_on"] = {
        "sets": f"{sets_dir.name}: dev split of {', '.join(POSITIVE + NEGATIVE)}",
        "source": load_manifest(sets_dir)["source"].split("/")[-1],
        "questions": len(rows),
        "when": time.strftime("%Y-%m-%d"),
        "command": f"qingshan-bot calibrate --sets {sets_dir} --max-false-refusal {max_false_refusal}",
    }
    out.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return model
