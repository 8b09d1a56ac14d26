"""Build or update the index from the corpus: incremental by chunk content hash, atomic switch."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from bot.core.errors import IndexCorruptError
from bot.core.settings import Settings
from bot.ingest.chunking import Chunk, chunk_corpus
from bot.ingest.loader import corpus_hash, load_corpus
from bot.models.embedder import Embedder, TextEncoder, chroma_embedding_function
from bot.retrieval.store import MANIFEST_FORMAT, Store, build_signature, chunk_metadata, set_aside

log = logging.getLogger(__name__)

_EMBED_SLICE = 256  # chunks embedded per progress step


@dataclass(frozen=True)
class IndexReport:
    version: str
    documents: int
    chunks: int
    embedded: int
    reused: int
    removed: int
    seconds: float
    unchanged: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.unchanged:
            return f"index is up to date: {self.documents} documents, {self.chunks} chunks"
        return (
            f"indexed {self.documents} documents into {self.chunks} chunks "
            f"({self.embedded} embedded, {self.reused} reused, {self.removed} removed) "
            f"in {self.seconds:.1f}s"
        )


def build_index(
    settings: Settings,
    embedder: TextEncoder | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
    store: Store | None = None,
) -> IndexReport:
    """Index `settings.corpus_dir`. Corpus errors surface before anything is touched."""
    t0 = time.perf_counter()
    docs = load_corpus(settings.corpus_dir)
    chunks = chunk_corpus(docs, settings.chunk_size, settings.chunk_overlap)
    c_hash = corpus_hash(docs)
    store = store or _open_store(settings, rebuild)
    encoder: TextEncoder = embedder or Embedder(settings)
    with store.writer_lock():
        state = store.state()
        if state is not None and not rebuild:
            store.check_compatible(state)
            if state.manifest.get("corpus_hash") == c_hash:
                seconds = time.perf_counter() - t0
                return IndexReport(state.collection, len(docs), len(chunks), 0, 0, 0, seconds, unchanged=True)
        old = None
        if state is not None and not rebuild:
            old = store.open_collection(state.collection, chroma_embedding_function(encoder))
        name = store.new_version_name()
        store.prune(keep={state.collection} if state else set())  # leftovers of killed builds
        collection = store.create_version(name, chroma_embedding_function(encoder))
        try:
            embedded, reused = _fill(store, collection, chunks, old, encoder, progress)
        except BaseException:
            _drop_quietly(store, name)
            raise
        old_count = old.count() if old is not None else 0
        manifest = {
            "format": MANIFEST_FORMAT,
            "build": build_signature(settings),
            "embedding_dim": encoder.dimension,
            "corpus_hash": c_hash,
            "documents": {d.id: d.content_hash for d in docs},
            "chunk_count": len(chunks),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "version": name,
        }
        store.publish(name, manifest)
        # Keep the previous version one more round: a running server may still read it.
        store.prune(keep={name} | ({state.collection} if state else set()))
    removed = old_count - reused if old is not None else 0
    return IndexReport(name, len(docs), len(chunks), embedded, reused, removed, time.perf_counter() - t0)


def _open_store(settings: Settings, rebuild: bool) -> Store:
    """The store; with `rebuild`, an unreadable index is set aside instead of failing."""
    try:
        return Store(settings)
    except IndexCorruptError:
        if not rebuild:
            raise
        log.warning("index unreadable; set aside as %s, building a new one", set_aside(settings))
        return Store(settings)


def _fill(
    store: Store,
    collection: Any,
    chunks: list[Chunk],
    old: Any,
    embedder: TextEncoder,
    progress: bool,
) -> tuple[int, int]:
    from tqdm import tqdm

    vectors: dict[str, Any] = {}
    if old is not None:
        wanted = [c.id for c in chunks]
        page = 1000
        for i in range(0, len(wanted), page):
            got = old.get(ids=wanted[i : i + page], include=["embeddings"])
            vectors.update(zip(got["ids"], got["embeddings"], strict=True))
    todo = [c for c in chunks if c.id not in vectors]
    log.info("embedding %d new chunks (%d reused) for %s", len(todo), len(vectors), collection.name)
    bar = tqdm(total=len(todo), desc="embedding", unit="chunk", disable=not progress or not todo)
    for i in range(0, len(todo), _EMBED_SLICE):
        part = todo[i : i + _EMBED_SLICE]
        for c, vec in zip(part, embedder.encode([c.text for c in part], is_query=False), strict=True):
            vectors[c.id] = vec
        bar.update(len(part))
    bar.close()
    log.info("writing %d chunks into %s", len(chunks), collection.name)
    store.write_batches(
        collection,
        ids=[c.id for c in chunks],
        embeddings=[vectors[c.id] for c in chunks],
        documents=[c.text for c in chunks],
        metadatas=[chunk_metadata(c) for c in chunks],
    )
    return len(todo), len(chunks) - len(todo)


def _drop_quietly(store: Store, name: str) -> None:
    try:
        store.client.delete_collection(name)
    except Exception:  # the build already failed; the next build prunes leftovers too
        log.warning("could not remove the half-built collection %s", name)
