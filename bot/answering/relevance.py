"""Whether the picked sentences can answer at all: a calibrated relevance signal.

No Chinese cross-encoder or NLI model ships its weights on PyPI, so the signal is built from
what is here: how much of the question (idf-weighted character bigrams) the picked sentence,
its document and the best sentence of the retrieved passages hold, and the embedding similarity
of question and sentence. A logistic model over these features gives the probability that the
text answers; its coefficients and threshold are fitted on the development sets by
`qingshan-bot calibrate` and kept, with what they were fitted on, in `data/relevance.json`.

On CMRC paragraphs it separates a question whose topic the corpus lacks from one it answers;
a missing single fact of a present topic is much harder to see this way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.sentences import Sentence
from bot.retrieval.keyword import KeywordIndex, tokenize

FEATURES = ("cov_sent", "cov_doc", "best_cov", "dense")
MODEL = Path(__file__).parent / "data" / "relevance.json"


def _coverage(terms: Sequence[str], weights: dict[str, float], text: str) -> float:
    total = sum(weights[t] for t in terms)
    if not total:
        return 1.0  # nothing to cover (an English question against a Chinese corpus)
    present = set(tokenize(text))
    return sum(weights[t] for t in terms if t in present) / total


def features(
    question: str,
    best: Sentence,
    document: str,
    candidates: list[Sentence],
    dense: float,
    keyword: KeywordIndex | None,
    n_texts: int,
) -> dict[str, float]:
    """The signal's inputs for the sentence an answer would cite first."""
    terms = sorted({t for t in tokenize(question, query=True) if len(t) == 2})
    unseen = math.log(1 + max(1, n_texts))  # a term the corpus never uses weighs most

    def idf(t: str) -> float:
        if keyword is None:
            return unseen
        value = keyword.idf(t)
        if value > 0:
            return value
        # A pair the corpus never uses weighs what its characters do: a name's rare characters
        # weigh much, a colloquial pair of common ones ("搞的") little.
        return sum(keyword.idf(c) or unseen for c in t) / len(t)

    weights = {t: idf(t) for t in terms}
    return {
        "cov_sent": _coverage(terms, weights, best.text),
        "cov_doc": _coverage(terms, weights, document + best.passage.chunk.title),
        "best_cov": max((_coverage(terms, weights, s.text) for s in candidates), default=0.0),
        "dense": dense,
    }


@cache
def model() -> dict[str, Any]:
    return dict(json.loads(MODEL.read_text(encoding="utf-8")))


def probability(values: dict[str, float], fitted: dict[str, Any] | None = None) -> float:
    """P(the text answers) under the fitted logistic model."""
    m = fitted or model()
    z = m["intercept"] + sum(m["coef"][f] * values[f] for f in FEATURES)
    return float(1 / (1 + np.exp(-z)))
