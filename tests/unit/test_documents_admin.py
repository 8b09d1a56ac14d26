"""The documents admin page in-process (TestClient, real Chroma, the hashing fake embedder):
behind the admin token, upload → background re-index → answers cite the new document (its
page), starters and the overview follow; delete → the same question is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.answering.answerer import Answerer
from bot.core.settings import Settings
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from bot.server.app import create_app
from bot.server.service import AnswerService
from tests.support.documents import REPORT_PDF, scanned_pdf
from tests.support.fakes import FakeEmbedder

TOKEN = "admin-secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Q = "实验室的年度预算是多少？"


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={"admin_token": SecretStr(TOKEN), "data_dir": tmp_path / "data", "profile_path": tmp_path / "none.toml"}
    )
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    service = AnswerService(settings, Answerer(settings, Retriever(settings, embedder, auto_index=False)))
    with TestClient(create_app(settings, service, warm=False)) as c:
        yield c


def _settle(client: TestClient) -> dict:
    client.app.state.reindexer.wait(60)  # type: ignore[attr-defined]
    return client.get("/admin/documents/api", headers=AUTH).json()


def _ask(client: TestClient) -> dict:
    return client.post("/api/ask", json={"question": Q, "mode": "extractive"}).json()


def test_the_page_and_its_api_need_the_token(client: TestClient) -> None:
    assert client.get("/admin/documents/", follow_redirects=False).headers["location"].startswith("/admin/login")
    assert client.get("/admin/documents/api").status_code == 401
    files = {"files": ("a.txt", "内容。".encode(), "text/plain")}
    assert client.post("/admin/documents/api/upload", files=files).status_code == 401
    assert client.post("/admin/documents/api/delete/qingshan-article").status_code == 401
    assert "文档 · Documents" in client.get("/admin/", headers=AUTH).text
    page = client.get("/admin/documents/", headers=AUTH)
    assert page.status_code == 200 and "documents.js" in page.text


def test_upload_reindex_answer_with_page_then_delete(client: TestClient) -> None:
    assert _ask(client)["refused"]
    before = client.get("/api/starters").json()
    files = [("files", ("report.pdf", REPORT_PDF.read_bytes(), "application/pdf"))]
    sent = client.post("/admin/documents/api/upload", files=files, headers=AUTH)
    assert sent.status_code == 202 and sent.json()["files"][0]["line"] == "added report.pdf (id report)"
    listing = _settle(client)
    assert listing["job"]["state"] == "done" and listing["job"]["percent"] == 100.0
    row = {d["id"]: d for d in listing["documents"]}["report"]
    assert (row["status"], row["format"], row["chunks"], row["title"]) == ("indexed", "pdf", 3, "星河实验室年度报告")
    answer = _ask(client)
    assert not answer["refused"]
    assert [c["page"] for c in answer["citations"] if "3200万元" in c["quote"]] == [3]
    after = client.get("/api/starters").json()
    assert "星河实验室年度报告" in after["documents"] and "星河实验室年度报告" not in before["documents"]
    assert any("星河实验室" in q for q in after["questions"]), after["questions"]
    deleted = client.post("/admin/documents/api/delete/report", headers=AUTH)
    assert deleted.status_code == 202 and deleted.json()["lines"] == ["removed report.pdf"]
    listing = _settle(client)
    assert "report" not in {d["id"] for d in listing["documents"]}
    assert _ask(client)["refused"]
    assert not any("星河实验室" in q for q in client.get("/api/starters").json()["questions"])


def test_bad_uploads_are_refused_with_their_reason(client: TestClient, tmp_path: Path) -> None:
    files = [
        ("files", ("../../outside.txt", "外面的文件。内容。".encode(), "text/plain")),
        ("files", ("scan.pdf", scanned_pdf(tmp_path / "s.pdf").read_bytes(), "application/pdf")),
        ("files", ("run.sh", b"#!/bin/sh\n", "text/x-sh")),
    ]
    lines = [f["line"] for f in client.post("/admin/documents/api/upload", files=files, headers=AUTH).json()["files"]]
    assert lines[0] == "added outside.txt (id outside)"
    assert lines[1] == "refused scan.pdf: this PDF has no text layer (a scan?); OCR it first"
    assert lines[2].startswith("refused run.sh: .sh files are not accepted")
    corpus = client.app.state.service.settings.corpus_dir  # type: ignore[attr-defined]
    assert (corpus / "outside.txt").is_file() and not (corpus.parent / "outside.txt").exists()
    _settle(client)
    too_many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)]
    refused = client.post("/admin/documents/api/upload", files=too_many, headers=AUTH)
    assert refused.status_code == 400 and "the limit is 10" in refused.json()["error"]["message"]
    missing = client.post("/admin/documents/api/delete/nosuch", headers=AUTH)
    assert missing.status_code == 400 and "no document with id 'nosuch'" in missing.json()["error"]["message"]


def test_a_running_server_follows_an_index_built_elsewhere(settings: Settings) -> None:
    """`doc-add` (or `index`, or another replica) builds a new version; the server swaps it in."""
    import shutil
    import time

    settings = settings.model_copy(update={"index_follow_s": 0.2})
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    service = AnswerService(settings, Answerer(settings, Retriever(settings, embedder, auto_index=False)))
    service.start(background=True)
    deadline = time.monotonic() + 30
    while not service.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    first = service.answerer.retriever.version
    assert service.answer(Q, [], "extractive").refused
    shutil.copy(REPORT_PDF, settings.corpus_dir / "report.pdf")
    built = build_index(settings, FakeEmbedder(settings))  # as another process would
    while service.answerer.retriever.version != built.version and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert service.answerer.retriever.version == built.version != first
        assert not service.answer(Q, [], "extractive").refused
    finally:
        service.stop()


def test_changes_during_a_build_are_folded_into_the_next(client: TestClient) -> None:
    """The first build is held (after it has read and written only `a`) until `b` has arrived:
    `b` lands mid-build for certain, and only folding it into one more build indexes it."""
    service = client.app.state.service  # type: ignore[attr-defined]
    real_reindex, built, release = service.reindex, threading.Event(), threading.Event()
    calls: list[str] = []

    def held_reindex(progress: Any = None) -> Any:
        report = real_reindex(progress)
        calls.append(report.version)
        if len(calls) == 1:
            built.set()
            assert release.wait(30), "the test never released the first build"
        return report

    service.reindex = held_reindex

    def upload(name: str) -> None:
        files = [("files", (f"{name}.txt", f"第{name}份文件。编号{name}的内容。".encode(), "text/plain"))]
        assert client.post("/admin/documents/api/upload", files=files, headers=AUTH).status_code == 202

    upload("a")
    assert built.wait(60), "the first build never finished"
    upload("b")  # the first build has read the corpus already: `b` is not in it
    assert client.get("/admin/documents/api", headers=AUTH).json()["job"]["state"] == "running"
    release.set()
    listing = _settle(client)
    assert len(calls) == 2, calls  # exactly one more build, for `b`
    assert listing["job"]["state"] == "done" and not listing["job"]["error"]
    status = {d["id"]: d["status"] for d in listing["documents"]}
    assert [status[k] for k in ("a", "b")] == ["indexed"] * 2, status
    served = service.answerer.retriever.version
    assert listing["serving"] == served == listing["job"]["version"] == calls[-1]


def test_a_chunked_upload_past_the_limit_is_413_and_nothing_is_added(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(
        update={
            "admin_token": SecretStr(TOKEN),
            "data_dir": tmp_path / "data",
            "profile_path": tmp_path / "none.toml",
            "max_document_bytes": 20_000,
            "max_upload_files": 1,
        }
    )
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    service = AnswerService(settings, Answerer(settings, Retriever(settings, embedder, auto_index=False)))
    boundary = "xyzBOUNDARY"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:  # no Content-Length: only counting while reading can stop it
        yield head
        for _ in range(120):
            yield "很长的内容。".encode() * 1_000
        yield f"\r\n--{boundary}--\r\n".encode()

    with TestClient(create_app(settings, service, warm=False)) as client:
        r = client.post(
            "/admin/documents/api/upload",
            content=body(),
            headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413 and "limit of 1020000 bytes" in r.json()["error"]["message"]
        assert not (settings.corpus_dir / "big.txt").exists()


def test_replace_from_the_page_keeps_the_documents_folder_and_touches_no_other(client: TestClient) -> None:
    """The page's Replace names the document by id ("sub/notes"); the new file takes its place.
    (It used to rename the file to the id, which the plain-name rule cut to "notes": the root
    document of that name was replaced, and deleted if its format differed.)"""
    corpus = client.app.state.service.settings.corpus_dir  # type: ignore[attr-defined]
    (corpus / "sub").mkdir()
    (corpus / "sub" / "notes.md").write_text("子目录的笔记。旧内容。", encoding="utf-8")
    (corpus / "notes.md").write_text("根目录的笔记。不应被替换。", encoding="utf-8")
    files = [("files", ("新版.txt", "子目录的笔记。新内容。".encode(), "text/plain"))]
    sent = client.post("/admin/documents/api/upload", files=files, data={"target": "sub/notes"}, headers=AUTH)
    assert sent.status_code == 202 and sent.json()["files"][0]["line"] == "replaced notes.txt (id sub/notes)"
    assert (corpus / "sub" / "notes.txt").read_text(encoding="utf-8") == "子目录的笔记。新内容。"
    assert not (corpus / "sub" / "notes.md").exists()
    assert (corpus / "notes.md").read_text(encoding="utf-8") == "根目录的笔记。不应被替换。"
    assert not (corpus / "新版.txt").exists()
    two = [files[0], ("files", ("b.txt", "另一份。".encode(), "text/plain"))]
    refused = client.post("/admin/documents/api/upload", files=two, data={"target": "sub/notes"}, headers=AUTH)
    assert refused.status_code == 400 and "takes one file" in refused.json()["error"]["message"]
    _settle(client)


def test_without_the_token_an_upload_gets_the_ordinary_body_limit(client: TestClient) -> None:
    """FastAPI reads a whole form before the route checks the token: the upload's large limit
    is only for a request that carries it, or anyone could have the server spool 200 MB."""
    big = "很长的一份文件。".encode() * 15_000  # 360 KB: over the 256 KB of any request
    files = [("files", ("big.txt", big, "text/plain"))]
    anonymous = client.post("/admin/documents/api/upload", files=files)
    assert anonymous.status_code == 413 and "the limit is 256000" in anonymous.json()["error"]["message"]
    signed_in = client.post("/admin/documents/api/upload", files=files, headers=AUTH)
    assert signed_in.status_code == 202 and signed_in.json()["files"][0]["line"] == "added big.txt (id big)"
    _settle(client)


def test_an_upload_while_another_process_builds_waits_for_the_lock(client: TestClient) -> None:
    """`doc-add`/`index` elsewhere holds the build lock: the page's re-index waits, then builds."""
    import time

    reindexer = client.app.state.reindexer  # type: ignore[attr-defined]
    reindexer.busy_wait_s = 0.05
    store = client.app.state.service.answerer.retriever.store  # type: ignore[attr-defined]
    with store.writer_lock():  # as another process's build would hold it
        files = [("files", ("a.txt", "第a份文件。编号a的内容。".encode(), "text/plain"))]
        assert client.post("/admin/documents/api/upload", files=files, headers=AUTH).status_code == 202
        deadline = time.monotonic() + 30
        while reindexer.status.phase != "waiting" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reindexer.status.phase == "waiting" and reindexer.status.state == "running"
    listing = _settle(client)
    assert listing["job"]["state"] == "done" and not listing["job"]["error"], listing["job"]
    assert {d["id"]: d["status"] for d in listing["documents"]}["a"] == "indexed"


def test_the_listing_says_when_the_index_cannot_be_read(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Chroma server that is down: the files are still listed (status unknown) with the reason."""
    store = client.app.state.service.answerer.retriever.store  # type: ignore[attr-defined]

    def down() -> None:
        raise ConnectionError("Could not connect to a Chroma server")

    monkeypatch.setattr(store, "state", down)
    r = client.get("/admin/documents/api", headers=AUTH)
    assert r.status_code == 200, r.text
    listing = r.json()
    assert "Could not connect to a Chroma server" in listing["index_error"]
    assert {d["id"]: d["status"] for d in listing["documents"]} == {"qingshan-article": "unknown"}
    monkeypatch.undo()
    listing = client.get("/admin/documents/api", headers=AUTH).json()
    assert not listing["index_error"] and listing["documents"][0]["status"] == "indexed"
