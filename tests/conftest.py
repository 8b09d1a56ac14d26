from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core.offline import enforce_offline
from bot.core.settings import Settings
from tests.support import ARTICLE
from tests.support.fakes import FakeEmbedder

enforce_offline()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(ARTICLE, d / ARTICLE.name)
    return d


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        embedding_model="fake-bigram-hash",
        collection="test",
        cache_dir=tmp_path / "cache",  # no local LLM here: `auto` must resolve to extractive
    )


@pytest.fixture
def fake_embedder(settings: Settings) -> FakeEmbedder:
    return FakeEmbedder(settings)


@pytest.fixture(scope="session")
def real_embedder():
    """The real default model, loaded once per test session."""
    from bot.models.embedder import Embedder

    return Embedder(Settings())


@pytest.fixture(scope="session")
def real_retriever(tmp_path_factory: pytest.TempPathFactory, real_embedder):
    from bot.retrieval.retriever import Retriever

    base = tmp_path_factory.mktemp("article")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    s = Settings(corpus_dir=corpus, index_dir=base / "index")
    r = Retriever(s, real_embedder)
    r.load()
    return r
