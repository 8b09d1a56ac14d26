"""The judge probe's measurement: AUCs and refused shares computed as documented."""

from __future__ import annotations

import random

import pytest

from bot.core.errors import UserError
from bot.evaluation.judge_probe import measure, render


def rows(separation: float, n: int = 40) -> list[dict[str, object]]:
    rng = random.Random(3)
    out: list[dict[str, object]] = []
    for name, good in (("open", True), ("missing-fact", False), ("missing-topic", False)):
        for _ in range(n):
            judge = min(0.999, max(0.001, rng.gauss(0.5 + (separation if good else -separation), 0.15)))
            feats = {f: rng.random() for f in ("cov_sent", "cov_doc", "best_cov", "dense")}
            out.append({"set": name, "judge": judge, "relevance": rng.random(), **feats})
    return out


def test_a_judge_that_separates_scores_high_and_refuses_more() -> None:
    strong, none = measure(rows(0.3)), measure(rows(0.0))
    assert strong["signals"]["judge"]["auc"] > 0.9
    assert 0.35 < none["signals"]["judge"]["auc"] < 0.65, "no separation, AUC near chance"
    assert 0.35 < strong["signals"]["relevance"]["auc"] < 0.65, "the random relevance column stays at chance"
    s, n = strong["signals"]["judge"], none["signals"]["judge"]
    assert s["refused_at_fr_0.05"]["missing-fact"] > n["refused_at_fr_0.05"]["missing-fact"] + 0.3
    assert strong["n"] == {"open": 40, "missing-fact": 40, "missing-topic": 40}


def test_render_and_too_few_rows() -> None:
    report = measure(rows(0.3)) | {"seconds_per_judgement": 1.5}
    table = render(report)
    assert "| judge |" in table and "| combined |" in table and "1.50 s per judgement" in table
    with pytest.raises(UserError, match="per-set"):
        measure([r for r in rows(0.3) if r["set"] != "open"][:5] + rows(0.3)[:1])
