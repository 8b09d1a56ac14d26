"""Documents as people have them: PDF (pages kept for citations), Word (headings shape chunks,
tables become sentences), web pages (chrome dropped, title kept), text in UTF-8, UTF-8 with BOM,
GB18030 and Big5; and each kind of bad file named in one line while the rest index. Real files
made at test time (tests/support/documents.py), a real Chroma, the hashing fake embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.answering.answerer import Answerer
from bot.core.settings import Settings
from bot.ingest.chunking import chunk_document
from bot.ingest.formats import BadDocument, pdf_paragraphs
from bot.ingest.loader import load_corpus, load_document
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from tests.support.documents import (
    CHROME,
    DOCX_HEADING,
    DOCX_SECTION,
    REPORT_PDF,
    damaged_pdf,
    encrypted_pdf,
    make_docx,
    make_html,
    scanned_pdf,
)
from tests.support.fakes import FakeEmbedder

SIMPLIFIED = "星河实验室简介\n星河实验室成立于2015年。实验室的年度预算为3200万元，其中60%用于设备采购。\n"
TRADITIONAL = "星河實驗室簡介\n星河實驗室成立於2015年。實驗室的年度預算為3200萬元，其中60%用於設備採購。\n"


def _settings(tmp_path: Path, corpus: Path, **extra: object) -> Settings:
    return Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / f"index-{corpus.name}",
        embedding_model="fake-bigram-hash",
        collection="docs",
        cache_dir=tmp_path / "cache",
        **extra,  # type: ignore[arg-type]
    )


def _answerer(settings: Settings) -> Answerer:
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    return Answerer(settings, Retriever(settings, embedder, auto_index=False))


def test_pdf_keeps_pages_and_the_answer_cites_its_page(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT_PDF, corpus / "report.pdf")
    doc = load_document(corpus / "report.pdf", "report")
    assert doc.format == "pdf" and doc.title == "星河实验室年度报告"
    assert [n for n, _ in doc.pages] == [1, 2, 3]
    # Lines the PDF broke at its margin are one sentence again.
    assert "实验室位于滨江新区创新大道88号。" in doc.text
    answer = _answerer(_settings(tmp_path, corpus)).answer("实验室的年度预算是多少？", mode="extractive")
    assert not answer.refused and "3200万元" in answer.text
    assert answer.citations[0].page == 3
    assert answer.citations[0].as_dict()["page"] == 3
    # Offsets still point into the cleaned text, so the highlight is exact.
    c = answer.citations[0]
    assert doc.text[c.start : c.end] == c.quote


def test_pdf_paragraphs_join_wrapped_lines_only() -> None:
    page = "标题\n这是一段很长的中文文字，它在页面的右边距处被折\n行了，然后结束。\n短句。"
    assert pdf_paragraphs(page) == ["标题", "这是一段很长的中文文字，它在页面的右边距处被折行了，然后结束。", "短句。"]
    # Spaces pypdf puts around digits set in another font go; others stay.
    assert pdf_paragraphs("第 1 部分  工作进展。下降了百分之 4 。用 Python 开发。") == [
        "第1部分  工作进展。下降了百分之4。用 Python 开发。"
    ]
    assert pdf_paragraphs("A long English line that wraps at the\nmargin here.") == [
        "A long English line that wraps at the margin here."
    ]


def test_docx_heading_shapes_its_chunks_and_tables_become_sentences(tmp_path: Path) -> None:
    doc = load_document(make_docx(tmp_path / "brief.docx"), "brief")
    assert doc.format == "docx" and doc.title == "远山大学工作简报"
    chunks = chunk_document(doc, chunk_size=220)
    # The heading is long and has a comma, so only the file's structure says it is one: it
    # opens the chunk of its section instead of standing alone or closing the previous one.
    section = [c for c in chunks if DOCX_SECTION in c.text]
    assert len(section) == 1 and section[0].text.startswith(DOCX_HEADING + "\n" + DOCX_SECTION)
    assert not any(c.text.rstrip().endswith(DOCX_HEADING) for c in chunks)
    assert "年份：2024年；经费：1000万元；项目数：18项。" in doc.text
    answer = _answerer_for(tmp_path, doc.path).answer("2024年的经费是多少？", mode="extractive")
    assert not answer.refused and "1000万元" in answer.text


def _answerer_for(tmp_path: Path, path: str) -> Answerer:
    corpus = tmp_path / f"c-{Path(path).stem}"
    corpus.mkdir()
    shutil.copy(path, corpus / Path(path).name)
    return _answerer(_settings(tmp_path, corpus))


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_html_main_text_without_chrome(tmp_path: Path, encoding: str) -> None:
    doc = load_document(make_html(tmp_path / "news.html", encoding), "news")
    assert doc.format == "html" and doc.title == "远山大学获批新材料重点实验室"
    assert "实验室主任由李明教授担任" in doc.text
    assert "年份：2025年；投资：5000万元；新增人员：15名。" in doc.text
    assert not [word for word in CHROME if word in doc.text]
    assert (doc.title, doc.text) == (doc.title, load_document(make_html(tmp_path / "u.html"), "news").text)


@pytest.mark.parametrize(
    ("text", "encoding", "reported"),
    [
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),
        (SIMPLIFIED, "gbk", "gb18030"),
        (SIMPLIFIED, "gb18030", "gb18030"),
        (TRADITIONAL, "big5", "big5"),
    ],
)
def test_legacy_encodings_answer_like_their_utf8_twins(tmp_path: Path, text: str, encoding: str, reported: str) -> None:
    answers = {}
    for name, enc in (("twin", "utf-8"), ("legacy", encoding)):
        corpus = tmp_path / name
        corpus.mkdir()
        (corpus / "lab.txt").write_bytes(text.encode(enc))
        doc = load_document(corpus / "lab.txt", "lab")
        assert doc.encoding == ("utf-8" if name == "twin" else reported)
        question = "实验室的年度预算是多少？" if text is SIMPLIFIED else "實驗室的年度預算是多少？"
        answers[name] = _answerer(_settings(tmp_path, corpus)).answer(question, mode="extractive").as_dict()
        answers[name]["text"] = doc.text
    twin, legacy = answers["twin"], answers["legacy"]
    assert legacy["text"] == twin["text"]
    assert not legacy["refused"] and legacy["answer"] == twin["answer"]
    assert [c["quote"] for c in legacy["citations"]] == [c["quote"] for c in twin["citations"]]


def _bad_files(corpus: Path) -> dict[str, str]:
    """Each kind of file that cannot be indexed, and the line the report must give it."""
    encrypted_pdf(corpus / "locked.pdf")
    damaged_pdf(corpus / "broken.pdf")
    scanned_pdf(corpus / "scan.pdf")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "huge.txt").write_text("大" * 40_000, encoding="utf-8")
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04 not read")
    (corpus / "fake.docx").write_bytes(b"not a zip at all")
    return {
        "locked.pdf": "skipped locked.pdf: this PDF is encrypted; save an unprotected copy and add that",
        "broken.pdf": "skipped broken.pdf: this PDF is damaged and cannot be read",
        "scan.pdf": "skipped scan.pdf: this PDF has no text layer (a scan?); OCR it first",
        "empty.txt": "skipped empty.txt: empty file",
        "huge.txt": "skipped huge.txt: 120,000 bytes is over the limit of 100,000 (QINGSHAN_MAX_DOCUMENT_BYTES)",
        "sheet.xlsx": "skipped sheet.xlsx: unknown format '.xlsx'; the formats read are",
        "fake.docx": "skipped fake.docx: this Word file is damaged or not a .docx",
    }


def test_each_bad_file_gets_one_line_and_the_rest_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT_PDF, corpus / "report.pdf")
    (corpus / "lab.txt").write_text(SIMPLIFIED, encoding="utf-8")
    settings = _settings(tmp_path, corpus, max_document_bytes=100_000)
    embedder = FakeEmbedder(settings)
    before = build_index(settings, embedder)
    expected = _bad_files(corpus)
    report = build_index(settings, embedder)
    assert report.documents == 2 and report.chunks == before.chunks
    assert len(report.skipped) == len(expected)
    for line in report.skipped:
        name = line.split(":")[0].removeprefix("skipped ")
        assert line.startswith(expected[name]) and "\n" not in line
    summary = report.summary().splitlines()
    assert summary[1:] == report.skipped
    answer = Answerer(settings, Retriever(settings, embedder, auto_index=False)).answer(
        "实验室的年度预算是多少？", mode="extractive"
    )
    assert not answer.refused


def test_a_file_broken_after_indexing_keeps_its_last_good_version(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT_PDF, corpus / "report.pdf")
    (corpus / "lab.txt").write_text("另一份文档。内容无关。", encoding="utf-8")
    settings = _settings(tmp_path, corpus)
    embedder = FakeEmbedder(settings)
    first = build_index(settings, embedder)
    damaged_pdf(corpus / "report.pdf")  # overwritten by a broken copy
    report = build_index(settings, embedder)
    assert report.kept == ["report"] and report.chunks == first.chunks
    assert report.skipped[0].startswith("skipped report.pdf: this PDF is damaged")
    answer = Answerer(settings, Retriever(settings, embedder, auto_index=False)).answer(
        "实验室的年度预算是多少？", mode="extractive"
    )
    assert not answer.refused and answer.citations[0].page == 3
    # Still kept when the next build has nothing else to do.
    assert build_index(settings, embedder).kept == ["report"]


def test_bad_document_messages_are_one_line(tmp_path: Path) -> None:
    for make in (encrypted_pdf, damaged_pdf, scanned_pdf):
        with pytest.raises(BadDocument) as info:
            load_document(make(tmp_path / f"{make.__name__}.pdf"))
        assert "\n" not in str(info.value)
    docs = load_corpus(REPORT_PDF.parent)
    assert [d.id for d in docs] == ["report"]


def test_docx_heading_styles_named_in_chinese_count_too(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    d.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("一、关于经费，以及设备采购和人员培训的安排情况说明", style="标题 1")
    d.add_paragraph("经费主要用于设备采购。")
    d.save(str(tmp_path / "wps.docx"))
    doc = load_document(tmp_path / "wps.docx")
    assert doc.headings == ((0, len("一、关于经费，以及设备采购和人员培训的安排情况说明")),)
    assert [c.text for c in chunk_document(doc)] == [doc.text]


def _broken_docx_xml() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types")  # a zip whose XML is cut short
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bom.txt", b"\xef\xbb\xbf\xff\xfe\xa0 not utf-8 after the BOM", "starts as UTF-8 (a BOM) but byte 3"),
        ("cut.docx", _broken_docx_xml(), "this Word file is damaged or not a .docx (XMLSyntaxError)"),
    ],
)
def test_malformed_files_are_skipped_with_a_line_not_a_traceback(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lab.txt").write_text(SIMPLIFIED, encoding="utf-8")
    (corpus / name).write_bytes(data)
    with pytest.raises(BadDocument, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_document(corpus / name)
    docs = load_corpus(corpus)
    assert [d.id for d in docs] == ["lab"] and [s.path for s in docs.skipped] == [name]


def test_any_parser_error_becomes_a_bad_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.ingest import formats

    def explode(data: bytes) -> object:
        raise RecursionError("maximum recursion depth exceeded")  # e.g. a PDF of nested objects

    monkeypatch.setattr(formats, "_pdf", explode)
    with pytest.raises(BadDocument, match=r"this pdf file is damaged and cannot be read \(RecursionError\)"):
        formats.extract(Path("deep.pdf"), b"%PDF-1.7 ...")


def test_a_word_file_that_unpacks_past_the_limit_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip bomb: a real Word file with one extra part of zeros that compresses ~1000:1."""
    import zipfile

    from bot.ingest import formats

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lab.txt").write_text(SIMPLIFIED, encoding="utf-8")
    make_docx(corpus / "report.docx")
    assert load_document(corpus / "report.docx").text  # the same file without the extra part reads
    monkeypatch.setattr(formats, "MAX_UNPACKED_BYTES", 4 * 2**20)
    with zipfile.ZipFile(corpus / "report.docx", "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/padding.bin", b"\0" * (5 * 2**20))
    assert (corpus / "report.docx").stat().st_size < 100_000
    bomb = r"unpacks to [56],\d{3},\d{3} bytes, over the limit of 4,194,304; is it a zip bomb"
    with pytest.raises(BadDocument, match=bomb):
        load_document(corpus / "report.docx")
    docs = load_corpus(corpus)
    assert [d.id for d in docs] == ["lab"] and [s.path for s in docs.skipped] == ["report.docx"]
