"""Build or update the index from the corpus: incremental by chunk content hash, atomic switch.

The manifest also holds the document catalog (title, format, size, chunks, when indexed) and
the files skipped with their reasons: what `doc-list` and the admin page show."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.core.errors import IndexCorruptError
from bot.core.settings import Settings
from bot.ingest.chunking import CHUNKING_VERSION, Chunk, chunk_corpus
from bot.ingest.loader import Corpus, Document, corpus_hash, load_corpus
from bot.models.embedder import Embedder, TextEncoder, chroma_embedding_function
from bot.retrieval.store import MANIFEST_FORMAT, Store, build_signature, chunk_metadata, set_aside

log = logging.getLogger(__name__)

_EMBED_SLICE = 256  # chunks embedded per progress step


Progress = Callable[[str, int, int], None]  # (phase, done, total): reading, embedding, writing


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
    skipped: list[str] = field(default_factory=list)  # one line per file left out, and why
    kept: list[str] = field(default_factory=list)  # ids of unreadable files whose last good version stays

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.unchanged:
            head = f"index is up to date: {self.documents} documents, {self.chunks} chunks"
        else:
            head = (
                f"indexed {self.documents} documents into {self.chunks} chunks "
                f"({self.embedded} embedded, {self.reused} reused, {self.removed} removed) "
                f"in {self.seconds:.1f}s"
            )
        lines = [head, *self.skipped]
        if self.kept:
            lines.append(f"kept the previously indexed version of: {', '.join(self.kept)}")
        return "\n".join(lines)


def build_index(
    settings: Settings,
    embedder: TextEncoder | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
    store: Store | None = None,
    on_progress: Progress | None = None,
) -> IndexReport:
    """Index `settings.corpus_dir`. Corpus errors surface before anything is touched; a file
    that cannot be read is skipped with its reason, and if it was indexed before, its last good
    version stays in the index."""
    t0 = time.perf_counter()
    report = on_progress or (lambda phase, done, total: None)
    docs = load_corpus(settings.corpus_dir, settings.max_document_bytes, lambda n, total: report("reading", n, total))
    chunks = chunk_corpus(docs, settings.chunk_size, settings.chunk_overlap)
    c_hash = corpus_hash(docs, f"chunking-{CHUNKING_VERSION}")
    skipped = [s.line() for s in docs.skipped]
    store = store or _open_store(settings, rebuild)
    encoder: TextEncoder = embedder or Embedder(settings)
    with store.writer_lock():
        state = store.state()
        if state is not None and not rebuild:
            store.check_compatible(state)
            # An index from before the catalog existed is rebuilt once (every vector reused).
            if state.manifest.get("corpus_hash") == c_hash and "catalog" in state.manifest:
                n_chunks = int(state.manifest.get("chunk_count", len(chunks)))
                kept = list(state.manifest.get("kept", []))
                return IndexReport(
                    state.collection, len(docs), n_chunks, 0, 0, 0, time.perf_counter() - t0, True, skipped, kept
                )
        old = None
        if state is not None and not rebuild:
            old = store.open_collection(state.collection, chroma_embedding_function(encoder))
        build = _Build(docs, chunks, state.manifest if state and old is not None else {}, report)
        name = store.new_version_name()
        store.prune(keep={state.collection} if state else set())  # leftovers of killed builds
        collection = store.create_version(name, chroma_embedding_function(encoder))
        try:
            embedded, reused = _fill(store, collection, build, old, encoder, progress)
        except BaseException:
            _drop_quietly(store, name)
            raise
        old_count = old.count() if old is not None else 0
        store.publish(name, build.manifest(settings, encoder.dimension, c_hash, name))
        # Keep the previous version one more round: a running server may still read it.
        store.prune(keep={name} | ({state.collection} if state else set()))
    removed = old_count - reused if old is not None else 0
    seconds = time.perf_counter() - t0
    total = len(chunks) + build.kept_chunks
    return IndexReport(name, len(docs), total, embedded, reused, removed, seconds, False, skipped, build.kept)


@dataclass
class _Build:
    """What one build writes: the loaded documents' chunks, plus the chunks of documents that
    failed to load this time but were indexed before (nothing already indexed is lost)."""

    docs: Corpus
    chunks: list[Chunk]
    old_manifest: dict[str, Any]
    report: Progress
    kept: list[str] = field(default_factory=list)
    kept_chunks: int = 0

    def __post_init__(self) -> None:
        loaded = {d.id for d in self.docs}
        before = self.old_manifest.get("documents", {})
        self.kept = sorted({s.doc_id for s in self.docs.skipped if s.doc_id in before and s.doc_id not in loaded})

    def manifest(self, settings: Settings, dimension: int, c_hash: str, name: str) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        old_docs = self.old_manifest.get("documents", {})
        old_catalog = self.old_manifest.get("catalog", {})
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        catalog = {}
        for d in self.docs:
            same = old_docs.get(d.id) == d.content_hash and d.id in old_catalog
            when = old_catalog[d.id]["indexed_at"] if same else now
            catalog[d.id] = _entry(settings, d, counts.get(d.id, 0), when)
        reasons = {s.doc_id: s.reason for s in self.docs.skipped}
        for doc_id in self.kept:
            catalog[doc_id] = {**old_catalog.get(doc_id, {}), "error": reasons[doc_id], "stale": True}
        return {
            "format": MANIFEST_FORMAT,
            "build": build_signature(settings),
            "embedding_dim": dimension,
            "corpus_hash": c_hash,
            "documents": {d.id: d.content_hash for d in self.docs} | {k: old_docs[k] for k in self.kept},
            "catalog": catalog,
            "skipped": [{"path": s.path, "doc_id": s.doc_id, "reason": s.reason} for s in self.docs.skipped],
            "kept": self.kept,
            "chunk_count": len(self.chunks) + self.kept_chunks,
            "built_at": now,
            "version": name,
        }


def _entry(settings: Settings, doc: Document, chunks: int, when: str) -> dict[str, Any]:
    """What the document list shows of one document."""
    path = Path(doc.path)
    try:
        file = path.relative_to(settings.corpus_dir).as_posix()
    except ValueError:
        file = path.name
    return {
        "title": doc.title,
        "format": doc.format,
        "encoding": doc.encoding,
        "bytes": doc.size,
        "pages": len(doc.pages),
        "chars": len(doc.text),
        "chunks": chunks,
        "file": file,
        "indexed_at": when,
    }


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
    build: _Build,
    old: Any,
    embedder: TextEncoder,
    progress: bool,
) -> tuple[int, int]:
    from tqdm import tqdm

    chunks = build.chunks
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
        build.report("embedding", min(i + _EMBED_SLICE, len(todo)), len(todo))
    bar.close()
    log.info("writing %d chunks into %s", len(chunks), collection.name)
    build.report("writing", 0, 1)
    store.write_batches(
        collection,
        ids=[c.id for c in chunks],
        embeddings=[vectors[c.id] for c in chunks],
        documents=[c.text for c in chunks],
        metadatas=[chunk_metadata(c) for c in chunks],
    )
    if build.kept and old is not None:
        build.kept_chunks = _carry_over(store, collection, old, build.kept)
    build.report("writing", 1, 1)
    return len(todo), len(chunks) - len(todo)


def _carry_over(store: Store, collection: Any, old: Any, doc_ids: list[str]) -> int:
    """Copies the previous version's chunks of `doc_ids`, vectors included, into the new one."""
    got = old.get(where={"doc_id": {"$in": doc_ids}}, include=["embeddings", "documents", "metadatas"])
    if got["ids"]:
        store.write_batches(
            collection,
            ids=list(got["ids"]),
            embeddings=list(got["embeddings"]),
            documents=list(got["documents"]),
            metadatas=list(got["metadatas"]),
        )
    return len(got["ids"])


def _drop_quietly(store: Store, name: str) -> None:
    try:
        store.client.delete_collection(name)
    except Exception:  # the build already failed; the next build prunes leftovers too
        log.warning("could not remove the half-built collection %s", name)
