"""Hybrid retrieval: dense (Chroma HNSW) fused with keyword BM25 by reciprocal rank fusion."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from bot.core.errors import StoreUnavailableError, UserError
from bot.core.settings import Settings
from bot.core.text import strip_invisible
from bot.ingest.chunking import Chunk
from bot.models.embedder import Embedder, TextEncoder, chroma_embedding_function
from bot.retrieval.keyword import KeywordIndex, has_chinese
from bot.retrieval.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def as_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.id,
            "doc_id": c.doc_id,
            "title": c.title,
            "text": c.text,
            "start": c.start,
            "end": c.end,
            "score": round(self.score, 6),
        }


def rrf_fuse(rankings: list[list[int]], k: int, weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: items ranked well by any ranker rise; scores are comparable."""
    fused: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + w / (k + rank + 1)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    """Opens the serving index version once; `search` is then thread-safe and read-only."""

    def __init__(
        self,
        settings: Settings,
        embedder: TextEncoder | None = None,
        store: Store | None = None,
        *,
        auto_index: bool = True,
        progress: bool = False,
    ) -> None:
        self.settings = settings
        self.embedder: TextEncoder = embedder or Embedder(settings)
        self._store = store
        self.auto_index = auto_index
        self.progress = progress
        self._lock = threading.Lock()
        self._loaded = False
        self.chunks: list[Chunk] = []
        self.version = ""
        self._positions: dict[str, int] = {}
        self._collection: Any = None
        self._keyword: KeywordIndex | None = None

    @property
    def keyword(self) -> KeywordIndex | None:
        return self._keyword

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings)
        return self._store

    def load(self) -> None:
        with self._lock:
            if not self._loaded:
                self._open()
                self._loaded = True

    def _open(self) -> None:
        if self.auto_index:
            from bot.retrieval.indexer import build_index

            # Builds a missing index, and folds corpus edits in incrementally.
            if self.settings.corpus_dir.exists() or self.store.state() is None:
                report = build_index(self.settings, self.embedder, progress=self.progress, store=self.store)
                if not report.unchanged:
                    log.info(report.summary())
        state = self.store.state()
        if state is None:
            raise UserError(f"no index in {self.store.location()}; build it with `qingshan-bot index`")
        self.store.check_compatible(state)
        self._collection = self.store.open_collection(state.collection, chroma_embedding_function(self.embedder))
        self.chunks = self.store.all_chunks(self._collection)
        self._positions = {c.id: i for i, c in enumerate(self.chunks)}
        self._keyword = KeywordIndex([c.text for c in self.chunks])
        self.version = state.collection

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        # The characters the corpus was cleaned of are no part of a query either: callers that
        # skip the question cleaner (the `search` command) find a name with a zero-width space in it.
        query = strip_invisible(query).strip()
        if not query:
            raise UserError("empty query: give the question to search for")
        if len(query) > self.settings.max_query_chars:
            raise UserError(f"query is {len(query)} characters; the limit is {self.settings.max_query_chars}")
        self.load()
        k = k or self.settings.top_k
        if not self.chunks:
            return []
        depth = min(max(self.settings.candidates, k), len(self.chunks))
        ranker = self.settings.ranker
        dense = self._dense(query, depth) if ranker != "keyword" else []
        keyword: list[int] = []
        # Character n-grams say nothing about an English query against a Chinese corpus.
        if ranker != "dense" and has_chinese(query) and self._keyword is not None:
            keyword = [pos for pos, _ in self._keyword.search(query, depth)]
        pairs = [(r, w) for r, w in ((dense, self.settings.dense_weight), (keyword, 1.0)) if r]
        fused = rrf_fuse([r for r, _ in pairs], self.settings.rrf_k, [w for _, w in pairs])[:k]
        dense_rank = {p: r + 1 for r, p in enumerate(dense)}
        kw_rank = {p: r + 1 for r, p in enumerate(keyword)}
        return [
            Passage(self.chunks[pos], score, rank + 1, dense_rank.get(pos), kw_rank.get(pos))
            for rank, (pos, score) in enumerate(fused)
        ]

    def _dense(self, query: str, depth: int) -> list[int]:
        vec = self.embedder.encode([query], is_query=True)[0]
        try:
            res = self._collection.query(query_embeddings=[vec], n_results=depth, include=[])
        except Exception as exc:  # a `chroma run` server that went away; it may come back
            if self.settings.chroma_mode != "server":
                raise
            self.store.heartbeat()  # raises the clear message if the server is down
            raise StoreUnavailableError(f"the vector store failed to answer ({exc.__class__.__name__})") from None
        return [self._positions[cid] for cid in res["ids"][0] if cid in self._positions]

    def warm_up(self) -> float:
        """Load index and model and run one query, so the first user does not pay for it."""
        t0 = time.perf_counter()
        self.load()
        if self.chunks:
            # A query made of the index's own words, so both rankers do real work on any corpus.
            self.search(self.chunks[0].text[:12], k=1)
        return time.perf_counter() - t0
