"""`qingshan-bot bench-docs`, kept small: the same three pages as a Chromium-printed PDF and as
a .docx with page breaks, each read and indexed (the fake embedder: this checks the measuring,
not the model; the figures in docs/documents.md come from the command with the real one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.settings import Settings
from bot.devtools.bench_documents import _measure, make_docx, make_pdf, page_text
from bot.ingest.loader import load_document
from tests.support.fakes import FakeEmbedder

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("make", [make_pdf, make_docx])
def test_both_formats_hold_the_same_pages_and_are_measured(tmp_path: Path, make) -> None:
    path = make(tmp_path / f"bench.{'pdf' if make is make_pdf else 'docx'}", 3)
    doc = load_document(path)
    for p in (1, 2, 3):
        assert all(para in doc.text for para in page_text(p)), p
    if make is make_pdf:
        assert [n for n, _ in doc.pages] == [1, 2, 3]
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", embedding_model="fake", collection="bench"
    )
    figures = _measure(settings, path, 3, FakeEmbedder(settings))
    assert figures["pages"] == 3 and figures["chunks"] == figures["embedded"] > 3
    assert figures["read_pages_per_s"] > 0 and figures["index_pages_per_s"] > 0
