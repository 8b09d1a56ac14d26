"""A re-index of 500 documents in the background while 20 questions arrive at once over real
HTTP (uvicorn on loopback): every question gets an answer, none an error, answered from the
version being served; the new version is swapped in when the build is done. Cheap by design:
small documents and the hashing fake embedder, slowed on large batches so the build surely
overlaps the questions."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from bot.answering.answerer import Answerer
from bot.core.settings import Settings
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from bot.server.app import create_app
from bot.server.service import AnswerService
from tests.support import ARTICLE
from tests.support.fakes import FakeEmbedder
from tests.support.servers import free_port

DOCS = 500
QUESTIONS = 20
ASK = "青山区2021年有多少家高新技术企业？"


class SlowBatches(FakeEmbedder):
    """The fake embedder, with the indexer's big batches taking a while (as a real model's do)."""

    def encode(self, texts: list[str], *, is_query: bool, progress: bool = False) -> np.ndarray:
        if len(texts) > 100:
            time.sleep(1.0)
        return super().encode(texts, is_query=is_query, progress=progress)


def _write_docs(corpus: Path, edition: int) -> None:
    for i in range(DOCS):
        body = f"编号{i}的项目在第{edition}季度完成了{i % 9 + 1}项测试，投入{i * 3 + edition}万元。"
        text = f"第{i}号简报（第{edition}版）\n{body}\n"
        (corpus / f"brief{i:03d}.txt").write_text(text, encoding="utf-8")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    import uvicorn

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    _write_docs(corpus, 1)
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        embedding_model="fake-bigram-hash",
        collection="load",
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        rate_limit_per_minute=0,
    )
    embedder = SlowBatches(settings)
    build_index(settings, embedder)
    service = AnswerService(settings, Answerer(settings, Retriever(settings, embedder, auto_index=False)))
    app = create_app(settings, service, warm=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


def test_questions_during_a_reindex_of_500_documents(served: tuple[str, Any]) -> None:
    url, app = served
    service, reindexer = app.state.service, app.state.reindexer
    old_version = service.answerer.retriever.version
    _write_docs(service.settings.corpus_dir, 2)  # every document changed: all 500 re-embedded
    reindexer.request()

    def ask(n: int) -> tuple[int, dict[str, Any], str]:
        question = ASK if n % 2 == 0 else f"编号{n}的项目投入了多少万元？"
        r = httpx.post(url + "/api/ask", json={"question": question, "mode": "extractive"}, timeout=60)
        return r.status_code, r.json(), reindexer.status.state

    with ThreadPoolExecutor(QUESTIONS) as pool:
        results = list(pool.map(ask, range(QUESTIONS)))
    assert [code for code, _, _ in results] == [200] * QUESTIONS, results
    assert all(body["answer"] for _, body, _ in results)
    assert all(not body["refused"] for n, (_, body, _) in enumerate(results) if n % 2 == 0)
    assert any(state == "running" for _, _, state in results), "the questions did not overlap the build"
    reindexer.wait(120)
    assert reindexer.status.state == "done", reindexer.status
    assert service.answerer.retriever.version not in ("", old_version)
    after = httpx.post(
        url + "/api/ask", json={"question": "编号7的项目投入了多少万元？", "mode": "extractive"}, timeout=60
    )
    # Served from the new version: the documents' second edition, never the first.
    assert after.status_code == 200 and "第2季度" in after.json()["answer"] and "第1季度" not in after.json()["answer"]
