"""Scale-out store: a real `chroma run` server on loopback, reached through HttpClient."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.errors import UserError
from bot.core.settings import Settings
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from tests.support import ARTICLE
from tests.support.servers import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.server]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    exe = Path(sys.executable).with_name("chroma")
    port = free_port()
    argv = [str(exe), "run", "--path", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)]
    with running(
        argv,
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        timeout=60,
        env=dict(os.environ, ANONYMIZED_TELEMETRY="False"),
    ):
        yield port


def test_index_and_search_through_chroma_server(chroma_server: int, tmp_path: Path, real_embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "unused", chroma_mode="server", chroma_port=chroma_server)
    report = build_index(s, real_embedder)
    assert report.chunks > 10
    assert build_index(s, real_embedder).unchanged
    r = Retriever(s, real_embedder, auto_index=False)
    top = r.search("北重集团和哪家单位共建国家重点实验室？", k=3)
    assert any("航发北京航空材料研究院" in p.chunk.text for p in top)
    assert not (tmp_path / "unused" / "chroma").exists(), "server mode must not write an embedded store"


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    s = Settings(corpus_dir=tmp_path, index_dir=tmp_path, chroma_mode="server", chroma_port=free_port())
    with pytest.raises(UserError, match="chroma run"):
        Retriever(s, auto_index=False).load()
