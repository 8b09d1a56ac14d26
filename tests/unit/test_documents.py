"""Document management as a library (the CLI and the admin page call it): names that cannot
escape the corpus folder, uploads checked before they enter it, replace, remove, the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import UserError
from bot.core.settings import Settings
from bot.retrieval.documents import add_files, catalog, remove_document, remove_documents, safe_name
from bot.retrieval.indexer import build_index
from bot.retrieval.store import Store
from tests.support.documents import REPORT_PDF, scanned_pdf
from tests.support.fakes import FakeEmbedder


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("报告.pdf", "报告.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\年报 2024.docx", "年报 2024.docx"),
        ("; rm -rf ~ $(id) `x`.md", "rm -rf _ _(id) _x.md"),
        (".hidden.txt", "hidden.txt"),
        ("a\x00b\n.txt", "ab.txt"),
        ("报告.PDF", "报告.pdf"),
    ],
)
def test_safe_name_stays_inside_the_corpus(raw: str, name: str, tmp_path: Path) -> None:
    assert safe_name(raw) == name
    assert (tmp_path / safe_name(raw)).resolve().parent == tmp_path.resolve()


def test_safe_name_refuses_a_name_of_nothing() -> None:
    with pytest.raises(UserError, match="no usable characters"):
        safe_name("../..")


def test_add_checks_each_file_before_it_enters_the_corpus(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"max_document_bytes": 100_000, "max_upload_files": 5})
    scan = scanned_pdf(tmp_path / "scan.pdf").read_bytes()
    results = add_files(
        settings,
        [
            ("report.pdf", REPORT_PDF.read_bytes()),
            ("scan.pdf", scan),
            ("tool.exe", b"MZ"),
            ("big.txt", "大".encode() * 40_000),
            ("qingshan-article.md", "重复。".encode()),
        ],
    )
    lines = [r.line() for r in results]
    assert lines[0] == "added report.pdf (id report)"
    assert lines[1] == "refused scan.pdf: this PDF has no text layer (a scan?); OCR it first"
    assert lines[2].startswith("refused tool.exe: .exe files are not accepted")
    assert lines[3].startswith("refused big.txt: 120,000 bytes is over the limit of 100,000")
    assert lines[4].startswith("refused qingshan-article.md: a document with id 'qingshan-article' is already")
    assert sorted(p.name for p in settings.corpus_dir.iterdir() if not p.name.startswith(".")) == [
        "qingshan-article.md",
        "report.pdf",
    ]
    assert not list((settings.corpus_dir / ".incoming").iterdir())  # nothing left half-written
    with pytest.raises(UserError, match="the limit is 5"):
        add_files(settings, [("a.txt", b"x")] * 6)


def test_replace_remove_and_the_catalog(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    add_files(settings, [("report.pdf", REPORT_PDF.read_bytes())])
    rows = {r["id"]: r for r in catalog(settings, None)}
    assert rows["report"]["status"] == "pending"
    build_index(settings, fake_embedder)
    manifest = Store(settings).state().manifest  # type: ignore[union-attr]
    rows = {r["id"]: r for r in catalog(settings, manifest)}
    report = rows["report"]
    assert (report["status"], report["format"], report["pages"], report["chunks"]) == ("indexed", "pdf", 3, 3)
    assert report["title"] == "星河实验室年度报告" and report["bytes"] == REPORT_PDF.stat().st_size
    assert report["indexed_at"]
    # The same id in another format replaces the PDF.
    [added] = add_files(settings, [("report.txt", "新版报告。内容更新。".encode("gb18030"))], replace=True)
    assert added.replaced and not (settings.corpus_dir / "report.pdf").exists()
    assert {r["id"]: r["status"] for r in catalog(settings, manifest)}["report"] == "pending"
    build_index(settings, fake_embedder)
    manifest = Store(settings).state().manifest  # type: ignore[union-attr]
    assert {r["id"]: r for r in catalog(settings, manifest)}["report"]["encoding"] == "gb18030"
    assert remove_document(settings, "report") == ["report.txt"]
    assert {r["id"]: r["status"] for r in catalog(settings, manifest)}["report"] == "removed"
    with pytest.raises(UserError, match="no document with id 'report'"):
        remove_document(settings, "report")
    with pytest.raises(UserError, match="is the last document"):
        remove_document(settings, "qingshan-article")


def test_an_index_from_before_the_catalog_gets_one(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    store = Store(settings)
    state = store.state()
    assert state is not None
    old = {k: v for k, v in state.manifest.items() if k not in {"catalog", "skipped", "kept"}}
    store.publish(state.collection, old)  # as an older version wrote it
    report = build_index(settings, fake_embedder)
    assert not report.unchanged and report.embedded == 0 and report.reused == report.chunks
    rows = catalog(settings, Store(settings).state().manifest)  # type: ignore[union-attr]
    assert [r["status"] for r in rows] == ["indexed"]
    assert build_index(settings, fake_embedder).unchanged


def test_two_uploads_of_one_name_at_once_do_not_overwrite_each_other(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second upload finishes while the first is being checked: the first is refused, not
    written over the second (both would have said "added")."""
    from bot.retrieval import documents

    real = documents.load_document

    def slow_check(path: Path, doc_id: str, max_bytes: int | None = None) -> object:
        got = real(path, doc_id, max_bytes)
        monkeypatch.setattr(documents, "load_document", real)
        [other] = add_files(settings, [("notes.txt", "另一位管理员的版本。内容。".encode())])  # meanwhile
        assert not other.error
        return got

    monkeypatch.setattr(documents, "load_document", slow_check)
    [first] = add_files(settings, [("notes.txt", "第一位管理员的版本。内容。".encode())])
    assert first.error == "a document with id 'notes' was added meanwhile; replace it instead"
    assert (settings.corpus_dir / "notes.txt").read_text(encoding="utf-8") == "另一位管理员的版本。内容。"


def test_removing_several_ids_removes_all_or_none(settings: Settings) -> None:
    add_files(settings, [("a.txt", "甲文件。内容。".encode()), ("b.txt", "乙文件。内容。".encode())])
    with pytest.raises(UserError, match="no document with id 'nosuch'"):
        remove_documents(settings, ["a", "nosuch"])
    assert (settings.corpus_dir / "a.txt").is_file()  # nothing removed for a typo in the second id
    with pytest.raises(UserError, match="are every document"):
        remove_documents(settings, ["a", "b", "qingshan-article"])
    assert (settings.corpus_dir / "a.txt").is_file() and (settings.corpus_dir / "b.txt").is_file()
    assert remove_documents(settings, ["a", "b", "a"]) == ["a.txt", "b.txt"]


def test_a_long_chinese_file_name_is_cut_to_what_the_file_system_takes(settings: Settings) -> None:
    """120 characters of Chinese are 360 bytes: over ext4's 255, the upload was a 500 (OSError)."""
    name = safe_name("报告" * 70 + ".TXT")
    assert len(name.encode()) <= 200 and name.startswith("报告报告") and name.endswith(".txt")
    [added] = add_files(settings, [("报告" * 70 + ".txt", "很长名字的文件。内容。".encode())])
    assert not added.error and (settings.corpus_dir / added.name).is_file()


def test_a_readme_is_refused_not_added_unindexed_or_overwritten(settings: Settings) -> None:
    """The loader skips README.md: an upload of one was "added" yet never indexed, and with
    replace it overwrote the corpus folder's own notes."""
    notes = settings.corpus_dir / "README.md"
    notes.write_text("这个文件夹的说明。", encoding="utf-8")
    for replace in (False, True):
        [added] = add_files(settings, [("readme.md", "上传的说明。".encode())], replace=replace)
        assert added.error == "a file named README.md is never indexed; rename it"
    assert notes.read_text(encoding="utf-8") == "这个文件夹的说明。"


def test_a_file_deleted_while_the_catalog_is_read_is_left_out(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete (or replace) between listing the folder and reading a file's size: the row is
    missing from this listing (an indexed one shows as removed), never a 500."""
    from bot.retrieval import documents

    add_files(settings, [("report.pdf", REPORT_PDF.read_bytes())])
    build_index(settings, fake_embedder)
    manifest = Store(settings).state().manifest  # type: ignore[union-attr]
    listed = documents.corpus_files(settings.corpus_dir)
    (settings.corpus_dir / "report.pdf").unlink()
    monkeypatch.setattr(documents, "corpus_files", lambda folder: listed)  # listed before the delete
    rows = {r["id"]: r["status"] for r in catalog(settings, manifest)}
    assert rows == {"qingshan-article": "indexed", "report": "removed"}, rows


def test_doc_add_refuses_a_file_over_the_limit_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(5_000)  # the size is all that is looked at
    opened: list[str] = []
    real_open, real_read = Path.open, Path.read_bytes

    def watched_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    def watched_read(self: Path) -> bytes:
        opened.append(self.name)
        return real_read(self)

    monkeypatch.setattr(Path, "open", watched_open)
    monkeypatch.setattr(Path, "read_bytes", watched_read)
    monkeypatch.setenv("QINGSHAN_MAX_DOCUMENT_BYTES", "1000")
    assert main(["doc-add", str(big), "--corpus", str(tmp_path / "corpus")]) == 2
    err = capsys.readouterr().err
    assert "refused big.txt: 5,000 bytes is over the limit of 1,000 (QINGSHAN_MAX_DOCUMENT_BYTES)" in err, err
    assert "big.txt" not in opened and not (tmp_path / "corpus" / "big.txt").exists()
