"""The app factory in-process: health, readiness, redirect and the page."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from bot.indexer import build_index
from bot.retrieval import Retriever
from bot.server import create_app
from bot.settings import Settings
from bot.web import render_passages
from tests.fakes import FakeEmbedder


def test_app_routes(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    retriever = Retriever(settings, fake_embedder, auto_index=False)
    app = create_app(settings, retriever, warm=False)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        root = client.get("/", follow_redirects=False)
        assert root.status_code in (302, 307) and root.headers["location"] == "/chat/"
        page = client.get("/chat/")
        assert page.status_code == 200 and "fonts.googleapis" not in page.text


def test_readyz_reports_the_reason_when_loading_fails(settings: Settings, fake_embedder: FakeEmbedder) -> None:

    retriever = Retriever(settings, fake_embedder, auto_index=False)  # no index built
    app = create_app(settings, retriever, warm=True)
    with TestClient(app) as client:
        for _ in range(100):
            body = client.get("/readyz")
            if "qingshan-bot index" in body.text:
                break
            time.sleep(0.05)
        assert body.status_code == 503 and "qingshan-bot index" in body.json()["reason"]


def test_passages_are_escaped(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    corpus = settings.corpus_dir
    (corpus / "xss.txt").write_text("<script>alert(1)</script>青山区。", encoding="utf-8")
    build_index(settings, fake_embedder)
    passages = Retriever(settings, fake_embedder, auto_index=False).search("alert 青山区", k=20)
    html = render_passages(passages)
    assert "<script>" not in html and "&lt;script&gt;" in html
