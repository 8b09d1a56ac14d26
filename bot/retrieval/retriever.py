"""Hybrid retrieval: dense (Chroma HNSW) fused with keyword BM25 by reciprocal rank fusion."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class _View:
    """One index version as searched: swapped whole, so a search never mixes two versions."""

    version: str = ""
    chunks: list[Chunk] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    collection: Any = None
    keyword: KeywordIndex | None = None


class Retriever:
    """Opens the serving index version once; `search` is then thread-safe and read-only.
    `reload` opens a newer version beside it and swaps it in with one assignment: a search
    running meanwhile finishes on the version it started with."""

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
        self._view = _View()

    @property
    def keyword(self) -> KeywordIndex | None:
        return self._view.keyword

    @property
    def chunks(self) -> list[Chunk]:
        return self._view.chunks

    @property
    def version(self) -> str:
        return self._view.version

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
        self._view = self._open_view()

    def _open_view(self) -> _View:
        state = self.store.state()
        if state is None:
            raise UserError(f"no index in {self.store.location()}; build it with `qingshan-bot index`")
        self.store.check_compatible(state)
        collection = self.store.open_collection(state.collection, chroma_embedding_function(self.embedder))
        chunks = self.store.all_chunks(collection)
        positions = {c.id: i for i, c in enumerate(chunks)}
        return _View(state.collection, chunks, positions, collection, KeywordIndex([c.text for c in chunks]))

    def reload(self) -> bool:
        """Serve the index's current version if it is newer than the one served; True if swapped.
        The old version stays readable until searches on it finish (the indexer keeps it)."""
        with self._lock:
            state = self.store.state()
            if state is None or state.collection == self._view.version:
                return False
            self._view = self._open_view()
            self._loaded = True
            return True

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        # The characters the corpus was cleaned of are no part of a query either: callers that
        # skip the question cleaner (the `search` command) find a name with a zero-width space in it.
        query = strip_invisible(query).strip()
        if not query:
            raise UserError("empty query: give the question to search for")
        if len(query) > self.settings.max_query_chars:
            raise UserError(f"query is {len(query)} characters; the limit is {self.settings.max_query_chars}")
        self.load()
        view = self._view  # one version for the whole search, even if a reload swaps meanwhile
        k = k or self.settings.top_k
        if not view.chunks:
            return []
        depth = min(max(self.settings.candidates, k), len(view.chunks))
        ranker = self.settings.ranker
        dense = self._dense(view, query, depth) if ranker != "keyword" else []
        keyword: list[int] = []
        # Character n-grams say nothing about an English query against a Chinese corpus.
        if ranker != "dense" and has_chinese(query) and view.keyword is not None:
            keyword = [pos for pos, _ in view.keyword.search(query, depth)]
        pairs = [(r, w) for r, w in ((dense, self.settings.dense_weight), (keyword, 1.0)) if r]
        fused = rrf_fuse([r for r, _ in pairs], self.settings.rrf_k, [w for _, w in pairs])[:k]
        dense_rank = {p: r + 1 for r, p in enumerate(dense)}
        kw_rank = {p: r + 1 for r, p in enumerate(keyword)}
        return [
            Passage(view.chunks[pos], score, rank + 1, dense_rank.get(pos), kw_rank.get(pos))
            for rank, (pos, score) in enumerate(fused)
        ]

    def _dense(self, view: _View, query: str, depth: int) -> list[int]:
        vec = self.embedder.encode([query], is_query=True)[0]
        try:
            res = view.collection.query(query_embeddings=[vec], n_results=depth, include=[])
        except Exception as exc:  # a `chroma run` server that went away; it may come back
            if self.settings.chroma_mode != "server":
                raise
            self.store.heartbeat()  # raises the clear message if the server is down
            raise StoreUnavailableError(f"the vector store failed to answer ({exc.__class__.__name__})") from None
        return [view.positions[cid] for cid in res["ids"][0] if cid in view.positions]

    def warm_up(self) -> float:
        """Load index and model and run one query, so the first user does not pay for it."""
        t0 = time.perf_counter()
        self.load()
        if self.chunks:
            # A query made of the index's own words, so both rankers do real work on any corpus.
            self.search(self.chunks[0].text[:12], k=1)
        return time.perf_counter() - t0
