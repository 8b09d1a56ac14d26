"""`qingshan-bot judge-probe`: does the local model's yes/no judgement (bot/models/yes_no.py)
tell a text that answers from one that does not, alone and combined with the calibrated
relevance signal, and what does it cost?

Dev split only. A seeded sample of `open` (the text answers), `missing-fact` and
`missing-topic` (it does not) questions is answered extractively with the gate off; for each
answer that is not refused anyway, the picked sentences go to the judge. Reported: ROC AUC of
each signal (all negatives, and open vs missing-fact alone), the share of each negative set
refused at thresholds that keep false refusals on `open` at 3, 5 and 10%, and seconds per
judgement. The combined signal is a logistic model scored by 5-fold cross-validation.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.relevance import FEATURES, probability
from bot.core.jsonl import read_jsonl
from bot.core.settings import Settings
from bot.evaluation.calibrate import NEGATIVE, POSITIVE
from bot.evaluation.suite import load_manifest

FALSE_REFUSALS = (0.03, 0.05, 0.10)


def sample(settings: Settings, sets_dir: Path, per_set: int, seed: int = 7) -> list[dict[str, Any]]:
    """The picked text and relevance features of a seeded sample of each set's dev questions."""
    from bot.answering.answerer import Answerer

    manifest = load_manifest(sets_dir)
    answerers: dict[str, Answerer] = {}
    rng = random.Random(seed)
    rows = []
    for name in POSITIVE + NEGATIVE:
        entry = manifest["sets"][name]
        if entry["corpus"] not in answerers:
            update = {"corpus_dir": sets_dir / entry["corpus"], "index_dir": sets_dir / entry["index"]}
            answerers[entry["corpus"]] = Answerer(settings.model_copy(update={**update, "relevance_gate": False}))
        a = answerers[entry["corpus"]]
        items = [item for _, item in read_jsonl(sets_dir / entry["dev"]["questions"], "question set")]
        rng.shuffle(items)
        for item in items[:per_set]:
            q = item["question"]
            passages = a.retriever.search(q, k=settings.top_k)
            pick = a.picker.pick(q, passages, "", q)
            if pick.refused:
                continue
            feats = a.picker.relevance(q, pick.best_first[0], passages)
            text = "".join(s.text for s in pick.sentences)
            rows.append({"set": name, "question": q, "text": text, "relevance": probability(feats), **feats})
    return rows


def judge(settings: Settings, rows: list[dict[str, Any]]) -> float:
    """Adds `judge` (P(是)) to each row; returns seconds per judgement."""
    from bot.models.yes_no import YesNoJudge

    model = YesNoJudge(settings)
    t0 = time.perf_counter()
    for row in rows:
        row["judge"] = model.probability(row["question"], row["text"])
    return (time.perf_counter() - t0) / max(1, len(rows))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def measure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """AUCs and refused shares of each signal; needs both classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from bot.core.errors import UserError

    sets = np.array([r["set"] for r in rows])
    y = np.isin(sets, POSITIVE)
    if min(y.sum(), (~y).sum(), (sets == "missing-fact").sum()) < 2:
        raise UserError("too few judged questions of each kind to measure; raise --per-set")
    x = np.column_stack(
        [np.array([[r[f] for f in FEATURES] for r in rows]), _logit(np.array([r["judge"] for r in rows]))]
    )
    folds = int(min(5, y.sum(), (~y).sum()))
    combined = cross_val_predict(LogisticRegression(C=10.0, max_iter=5000), x, y, cv=folds, method="predict_proba")
    signals = {
        "relevance": np.array([r["relevance"] for r in rows]),
        "judge": np.array([r["judge"] for r in rows]),
        "combined": combined[:, 1],
    }
    fact = sets != "missing-topic"
    out: dict[str, Any] = {"n": {n: int((sets == n).sum()) for n in POSITIVE + NEGATIVE}, "signals": {}}
    for name, v in signals.items():
        entry: dict[str, Any] = {
            "auc": round(float(roc_auc_score(y, v)), 3),
            "auc_open_vs_missing_fact": round(float(roc_auc_score(y[fact], v[fact])), 3),
        }
        for fr in FALSE_REFUSALS:
            t = float(np.quantile(v[sets == "open"], fr))
            entry[f"refused_at_fr_{fr:.2f}"] = {n: round(float(np.mean(v[sets == n] < t)), 3) for n in NEGATIVE}
        out["signals"][name] = entry
    return out


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Questions judged: {report['n']}; {report['seconds_per_judgement']:.2f} s per judgement",
        "",
        "| signal | AUC | AUC open vs missing-fact | "
        + " | ".join(f"refused at FR {fr:.2f} (fact / topic)" for fr in FALSE_REFUSALS)
        + " |",
        "|---|---|---|" + "---|" * len(FALSE_REFUSALS),
    ]
    for name, s in report["signals"].items():
        cells = [
            f"{s[f'refused_at_fr_{fr:.2f}']['missing-fact']:.2f} / {s[f'refused_at_fr_{fr:.2f}']['missing-topic']:.2f}"
            for fr in FALSE_REFUSALS
        ]
        lines.append(f"| {name} | {s['auc']:.3f} | {s['auc_open_vs_missing_fact']:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def probe(settings: Settings, sets_dir: Path, per_set: int, seed: int = 7) -> dict[str, Any]:
    rows = sample(settings, sets_dir, per_set, seed)
    seconds = judge(settings, rows)
    report = measure(rows)
    report.update(seconds_per_judgement=round(seconds, 3), per_set=per_set, seed=seed, sets=str(sets_dir))
    return report
