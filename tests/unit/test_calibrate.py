"""The relevance threshold keeps false refusals within the bound on every corpus's answerable questions."""

from __future__ import annotations

import numpy as np

from bot.evaluation.calibrate import fit


def _rows(name: str, n: int, dense: float, rng: np.random.Generator) -> list[tuple[str, dict[str, float]]]:
    out = []
    for _ in range(n):
        cov = float(np.clip(rng.normal(dense - 0.3, 0.15), 0, 1))
        d = float(np.clip(rng.normal(dense, 0.03), 0, 1))
        out.append((name, {"cov_sent": cov, "cov_doc": cov, "best_cov": cov, "dense": d}))
    return out


def test_a_second_corpus_of_colloquial_questions_lowers_the_threshold() -> None:
    rng = np.random.default_rng(0)
    cmrc = _rows("open", 300, 0.92, rng) + _rows("missing-topic", 150, 0.84, rng)
    alone = fit(cmrc, 0.03)
    # Answerable questions asked in other words than the text's: lower coverage and similarity.
    both = fit(cmrc + _rows("qingshan:answerable", 100, 0.87, rng), 0.03)
    assert both["threshold"] < alone["threshold"]
    for model in (alone, both):
        shares = model["refused_share_on_dev"]
        assert all(v <= 0.03 for k, v in shares.items() if k == "open" or k.endswith(":answerable"))
    assert both["refused_share_on_dev"]["missing-topic"] < alone["refused_share_on_dev"]["missing-topic"]
