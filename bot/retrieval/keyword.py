"""Keyword ranking for Chinese: BM25 (bm25s, sparse matrices) over characters plus bigrams.

Character bigrams approximate words without a segmenter, and survive paraphrases that a
word segmenter splits differently; single characters keep recall for rare names.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import numpy as np

from bot.core.text import CJK

_TOKEN = re.compile(rf"[{CJK}]+|[a-z0-9]+(?:\.[0-9]+)?")
_HASCJK = re.compile(rf"[{CJK}]")
# Function words of questions: they match everywhere and only add noise to the query side.
_QUERY_STOP = frozenset(
    (
        "什么 哪些 哪个 哪家 哪里 多少 几个 怎么 怎样 如何 是否 是不 为什么 请问 一下 告诉 "
        "的 了 吗 呢 吧 啊 是 有 在 和 与 及 都 也 还 就 个 把 被 对 从 这 那 其 它 他 她 我 你 "
        "文中 文章 提到 介绍 说说"
    ).split()
)


def has_chinese(text: str) -> bool:
    return bool(_HASCJK.search(text))


def tokenize(text: str, *, query: bool = False) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for m in _TOKEN.finditer(text):
        run = m.group()
        if not _HASCJK.match(run):
            tokens.append(run)
            continue
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    if query:
        tokens = [t for t in tokens if t not in _QUERY_STOP]
    return tokens


class KeywordIndex:
    def __init__(self, texts: list[str]) -> None:
        import bm25s

        # bm25s sets its logger to DEBUG on import; its progress chatter is not ours to show.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25: Any = bm25s.BM25()
        self._n = len(texts)
        self._df: dict[str, int] | None = None
        if texts:
            self._bm25.index([tokenize(t) for t in texts], show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(position, score) of the best `k` texts with a positive score."""
        tokens = tokenize(query, query=True)
        if not tokens or not self._n:
            return []
        k = min(k, self._n)
        ids, scores = self._bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        out = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
        return out

    def idf(self, token: str) -> float:
        """BM25 idf of a token over the indexed texts (0 for unknown tokens)."""
        if self._df is None:
            indptr = np.asarray(self._bm25.scores["indptr"])
            self._df = {
                t: int(indptr[i + 1] - indptr[i])
                for t, i in self._bm25.vocab_dict.items()
                if i + 1 < len(indptr)  # bm25s adds an empty token past the matrix
            }
        df = self._df.get(token, 0)
        if not df:
            return 0.0
        return float(np.log(1 + (self._n - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> np.ndarray:
        return np.asarray(self._bm25.get_scores(tokenize(query, query=True)))
