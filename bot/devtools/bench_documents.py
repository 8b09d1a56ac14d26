"""`qingshan-bot bench-docs`: how fast PDF and Word documents are read and indexed, in pages per
second. The same text is made into a PDF (printed by Chromium, as browsers and office suites
make them: a font subset with a ToUnicode map) and into a .docx with a page break per page, so
the two formats are compared on equal content. Two figures per format: reading alone (the
format library plus cleaning and chunking) and the whole build with the embedding model in use.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.core.settings import Settings

_SENTENCES = [
    "第{p}页记录了项目组在第{p}周完成的工作，共进行了{a}次试验，其中{b}次达到预期指标。",
    "项目组对设备运行数据进行了整理，平均能耗比上一阶段下降了百分之{b}。",
    "在人员方面，本周新增技术人员{a}名，均已完成岗位培训并通过考核。",
    "合作单位提供了{a}套测试样品，双方约定在下个月共同发布阶段性成果。",
    "经费使用情况良好，本周支出{a}万元，主要用于材料采购和外协加工。",
    "下一步，项目组将围绕关键部件的可靠性开展专项测试，计划安排{b}个批次。",
]


def page_text(p: int) -> list[str]:
    """About 300 characters of varied text for page `p`: a heading and three paragraphs."""
    a, b = p % 17 + 3, p % 7 + 2
    sentences = [s.format(p=p, a=a + i, b=b + i) for i, s in enumerate(_SENTENCES)]
    return [f"第{p}部分 工作进展", "".join(sentences[:3]), "".join(sentences[3:]), "".join(sentences[:2])]


def make_pdf(path: Path, pages: int) -> Path:
    from playwright.sync_api import sync_playwright

    from bot.devtools.screenshots import launch_chromium

    body = "".join(
        '<section style="page-break-after:always">' + "".join(f"<p>{para}</p>" for para in page_text(p)) + "</section>"
        for p in range(1, pages + 1)
    )
    head = '<meta charset="utf-8"><title>基准文档</title>'
    html = f'<!doctype html><html lang="zh"><head>{head}</head><body>{body}</body></html>'
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        page.set_content(html)
        page.pdf(path=str(path), format="A4")
        browser.close()
    return path


def make_docx(path: Path, pages: int) -> Path:
    import docx

    d = docx.Document()
    for p in range(1, pages + 1):
        head, *paras = page_text(p)
        d.add_heading(head, level=2)
        for para in paras:
            d.add_paragraph(para)
        if p < pages:
            d.add_page_break()
    d.save(str(path))
    return path


def _measure(settings: Settings, path: Path, pages: int, embedder: Any) -> dict[str, Any]:
    from bot.ingest.chunking import chunk_document
    from bot.ingest.loader import load_document
    from bot.retrieval.indexer import build_index

    t0 = time.perf_counter()
    doc = load_document(path, path.stem)
    chunks = chunk_document(doc, settings.chunk_size, settings.chunk_overlap)
    read_s = time.perf_counter() - t0
    corpus = settings.corpus_dir / path.suffix.lstrip(".")
    corpus.mkdir(parents=True)
    shutil.copy(path, corpus / path.name)
    run = settings.model_copy(update={"corpus_dir": corpus, "index_dir": settings.index_dir / corpus.name})
    t0 = time.perf_counter()
    report = build_index(run, embedder)
    index_s = time.perf_counter() - t0
    return {
        "pages": pages,
        "bytes": path.stat().st_size,
        "chars": len(doc.text),
        "chunks": len(chunks),
        "read_s": round(read_s, 2),
        "read_pages_per_s": round(pages / read_s, 1),
        "index_s": round(index_s, 2),
        "index_pages_per_s": round(pages / index_s, 2),
        "embedded": report.embedded,
    }


def run_bench(pages: int = 100, settings: Settings | None = None) -> dict[str, Any]:
    """Both formats, `pages` pages each; the embedding model is the one the settings name."""
    import os

    from bot.models.embedder import Embedder

    base = Path(tempfile.mkdtemp(prefix="bench-docs-"))
    try:
        files = base / "files"
        files.mkdir()
        settings = (settings or Settings()).model_copy(
            update={"corpus_dir": base / "corpus", "index_dir": base / "index", "collection": "benchdocs"}
        )
        embedder = Embedder(settings)
        embedder.encode(["预热"], is_query=True)  # the model's load is not indexing time
        results = {
            "pdf": _measure(settings, make_pdf(files / "bench.pdf", pages), pages, embedder),
            "docx": _measure(settings, make_docx(files / "bench.docx", pages), pages, embedder),
        }
        return {"cpus": os.cpu_count(), "embedding_model": settings.embedding_model, "results": results}
    finally:
        shutil.rmtree(base, ignore_errors=True)
