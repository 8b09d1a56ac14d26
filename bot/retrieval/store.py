"""The index: chunks and their vectors in Chroma, versioned so that a rebuild is atomic.

Each build writes a new collection `<name>__<version>`; a small `<name>__meta` collection's
metadata holds the pointer to the serving version plus the manifest (embedding model, chunking,
corpus hash). Switching the pointer is a single metadata write, so a build killed half-way
leaves the previous version serving, and its leftover collection is removed by the next build.
The same layout works for an embedded `PersistentClient` and for a `chroma run` server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    StoreUnavailableError,
    UserError,
)
from bot.core.settings import Settings
from bot.ingest.chunking import Chunk

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
# Settings that change the vectors or the chunks: an index built with others is refused.
_BUILD_KEYS = ("embedding_model", "query_prefix", "passage_prefix", "chunk_size", "chunk_overlap")


def build_signature(settings: Settings) -> dict[str, Any]:
    return {key: getattr(settings, key) for key in _BUILD_KEYS}


def _unreachable(settings: Settings, exc: Exception) -> str:
    return (
        f"Chroma server at {settings.chroma_host}:{settings.chroma_port} is not "
        f"reachable ({exc.__class__.__name__}); start it with `chroma run --path DIR "
        f"--port {settings.chroma_port}` or set QINGSHAN_CHROMA_MODE=embedded"
    )


def make_client(settings: Settings) -> Any:
    """A Chroma client with telemetry off: embedded under index_dir, or a `chroma run` server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_mode == "server":
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as exc:  # the client pings the server on creation
            raise StoreUnavailableError(_unreachable(settings, exc)) from None
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(settings.index_dir / "chroma"), settings=chroma_settings)
    except Exception as exc:  # damaged files: say how to recover instead of a stack trace
        raise IndexCorruptError(
            f"the index in {settings.index_dir} cannot be opened ({exc.__class__.__name__}: {exc}); "
            "run `qingshan-bot index --rebuild` to set it aside and build a new one"
        ) from None


def set_aside(settings: Settings) -> Path:
    """Moves a damaged embedded store out of the way (kept for inspection, never deleted)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    src = settings.index_dir / "chroma"
    dst = settings.index_dir / f"chroma.broken-{time.strftime('%Y%m%d-%H%M%S')}"
    src.rename(dst)
    SharedSystemClient.clear_system_cache()  # chromadb caches the failed client by path
    return dst


@dataclass(frozen=True)
class IndexState:
    collection: str
    manifest: dict[str, Any]


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "start": chunk.start,
        "end": chunk.end,
        "seq": chunk.seq,
    }
    if chunk.pages:  # Chroma metadata holds scalars: "3:0,4:118" = page 3 from offset 0, page 4 from 118
        meta["pages"] = ",".join(f"{n}:{at}" for n, at in chunk.pages)
    return meta


def _pages(raw: Any) -> tuple[tuple[int, int], ...]:
    if not raw:
        return ()
    pairs = (item.split(":") for item in str(raw).split(","))
    return tuple((int(n), int(at)) for n, at in pairs)


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        seq=int(meta.get("seq", 0)),
        pages=_pages(meta.get("pages")),
    )


class Store:
    """Reads and writes versioned index collections through one Chroma client."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self.client = client if client is not None else make_client(settings)
        self.meta_name = f"{settings.collection}__meta"

    # -- reading ---------------------------------------------------------------------------
    def state(self) -> IndexState | None:
        """The serving version and its manifest, or None when no index was built yet."""
        try:
            meta = self.client.get_collection(self.meta_name, embedding_function=None).metadata
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        if not meta or "current" not in meta:
            return None
        try:
            manifest = json.loads(meta["manifest"])
        except (KeyError, ValueError):
            raise UserError("index manifest is unreadable; rebuild with `qingshan-bot index --rebuild`") from None
        return IndexState(collection=str(meta["current"]), manifest=manifest)

    def check_compatible(self, state: IndexState) -> None:
        built = state.manifest.get("build", {})
        wanted = build_signature(self.settings)
        diffs = [
            f"{k}: index={built.get(k)!r} settings={wanted[k]!r}" for k in _BUILD_KEYS if built.get(k) != wanted[k]
        ]
        if state.manifest.get("format") != MANIFEST_FORMAT:
            diffs.insert(0, f"format: index={state.manifest.get('format')!r} expected={MANIFEST_FORMAT}")
        if diffs:
            raise IndexMismatchError(
                f"the index in {self.location()} was built differently ({'; '.join(diffs)}); "
                f"run `qingshan-bot index --rebuild` (or restore the settings it was built with)"
            )

    def heartbeat(self) -> None:
        """Raises StoreUnavailableError when a Chroma server does not answer (embedded: no-op)."""
        if self.settings.chroma_mode != "server":
            return
        try:
            self.client.heartbeat()
        except Exception as exc:
            raise StoreUnavailableError(_unreachable(self.settings, exc)) from None

    def location(self) -> str:
        if self.settings.chroma_mode == "server":
            return f"chroma server {self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.settings.index_dir)

    def open_collection(self, name: str, embedding_function: Any) -> Any:
        return self.client.get_collection(name, embedding_function=embedding_function)

    def all_chunks(self, collection: Any) -> list[Chunk]:
        """Every chunk of a version, read in pages (the keyword index and citations need text)."""
        total = collection.count()
        page = max(1, min(self._batch_size(), 5000))
        chunks: list[Chunk] = []
        for offset in range(0, total, page):
            got = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                chunks.append(chunk_from_record(cid, text, meta))
        chunks.sort(key=lambda c: (c.doc_id, c.seq))
        return chunks

    # -- writing ---------------------------------------------------------------------------
    def new_version_name(self) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return f"{self.settings.collection}__v{stamp}{uuid.uuid4().hex[:6]}"

    def create_version(self, name: str, embedding_function: Any) -> Any:
        return self.client.create_collection(
            name,
            configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 128}},
            embedding_function=embedding_function,
        )

    def publish(self, name: str, manifest: dict[str, Any]) -> None:
        """Point readers at `name`: one metadata write on the meta collection."""
        meta = self.client.get_or_create_collection(self.meta_name, embedding_function=None)
        meta.modify(metadata={"current": name, "manifest": json.dumps(manifest, ensure_ascii=False)})
        if self.settings.chroma_mode == "embedded":
            # A human-readable copy; the source of truth stays in Chroma.
            (self.settings.index_dir / "manifest.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
            )

    def prune(self, keep: set[str]) -> list[str]:
        """Delete version collections not in `keep` (leftovers of killed or older builds)."""
        prefix = f"{self.settings.collection}__v"
        removed = []
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(prefix) and name not in keep:
                self.client.delete_collection(name)
                removed.append(name)
        return removed

    def _batch_size(self) -> int:
        try:
            return int(self.client.get_max_batch_size())
        except Exception:
            return 1000

    def write_batches(self, collection: Any, **columns: list[Any]) -> None:
        """`collection.add` in slices within the client's max batch size."""
        n = len(columns["ids"])
        step = self._batch_size()
        for i in range(0, n, step):
            collection.add(**{k: v[i : i + step] for k, v in columns.items()})

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One indexer at a time (embedded mode; a server deployment runs one indexer job)."""
        if self.settings.chroma_mode != "embedded":
            yield
            return
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.settings.index_dir / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexBusyError(f"another `qingshan-bot index` is running on {self.settings.index_dir}") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _is_not_found(exc: Exception) -> bool:
    name = exc.__class__.__name__
    return name in {"NotFoundError", "InvalidCollectionException"} or "does not exist" in str(exc)
