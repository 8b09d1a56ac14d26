"""Indexer and store against a real embedded Chroma, with the fake embedder (one unit alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import IndexMismatchError, UserError
from bot.core.settings import Settings
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever, rrf_fuse
from bot.retrieval.store import Store
from tests.support.fakes import FakeEmbedder


def _retriever(settings: Settings, embedder: FakeEmbedder) -> Retriever:
    return Retriever(settings, embedder, auto_index=False)


def test_build_then_search_returns_offsets(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    report = build_index(settings, fake_embedder)
    assert report.chunks == report.embedded > 10 and report.reused == 0
    r = _retriever(settings, fake_embedder)
    results = r.search("青山区拥有高新技术企业多少家", k=3)
    assert len(results) == 3 and [p.rank for p in results] == [1, 2, 3]
    assert "高新技术企业19家" in results[0].chunk.text
    text = (settings.corpus_dir / "qingshan-article.md").read_text(encoding="utf-8")
    for p in results:
        assert p.chunk.text in text
        row = p.as_dict()
        assert set(row) == {"rank", "chunk_id", "doc_id", "title", "text", "start", "end", "score"}


def test_incremental_reindex(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    first = build_index(settings, fake_embedder)
    again = build_index(settings, fake_embedder)
    assert again.unchanged and again.embedded == 0

    path = settings.corpus_dir / "qingshan-article.md"
    path.write_text(path.read_text(encoding="utf-8").replace("19家", "20家"), encoding="utf-8")
    (settings.corpus_dir / "extra.txt").write_text("新增文档：青山区建设氢能产业园。", encoding="utf-8")
    fake_embedder.embedded.clear()
    second = build_index(settings, fake_embedder)
    assert second.embedded == 2 and second.reused == first.chunks - 1
    assert any("20家" in t for t in fake_embedder.embedded)

    (settings.corpus_dir / "extra.txt").unlink()
    fake_embedder.embedded.clear()
    third = build_index(settings, fake_embedder)
    assert third.embedded == 0 and third.removed == 1
    r = _retriever(settings, fake_embedder)
    r.load()
    assert {c.doc_id for c in r.chunks} == {"qingshan-article"}
    assert any("20家" in c.text for c in r.chunks)
    # Only the serving version and the one before it are kept.
    names = [c.name for c in Store(settings).client.list_collections() if "__v" in c.name]
    assert len(names) == 2


def test_an_index_cut_by_another_chunker_is_cut_again(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sentences are cut from the indexed chunks: after the chunker changes, an index built
    before would serve text cut the old way. It is cut again, and unchanged chunks keep their
    vectors."""
    first = build_index(settings, fake_embedder)
    monkeypatch.setattr("bot.retrieval.indexer.CHUNKING_VERSION", 99)
    again = build_index(settings, fake_embedder)
    assert not again.unchanged and again.embedded == 0 and again.reused == first.chunks
    assert build_index(settings, fake_embedder).unchanged


def test_manifest_mismatch_refuses_with_the_fix(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    other = settings.model_copy(update={"chunk_size": 150})
    with pytest.raises(IndexMismatchError, match=r"chunk_size: index=220 settings=150.*index --rebuild"):
        _retriever(other, FakeEmbedder(other)).load()
    with pytest.raises(IndexMismatchError):
        build_index(other, FakeEmbedder(other))
    rebuilt = build_index(other, FakeEmbedder(other), rebuild=True)
    assert rebuilt.embedded == rebuilt.chunks
    other_model = settings.model_copy(update={"embedding_model": "another-model"})
    with pytest.raises(IndexMismatchError, match="embedding_model"):
        _retriever(other_model, FakeEmbedder(other_model)).load()


def test_failed_build_leaves_previous_index_serving(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    before = _retriever(settings, fake_embedder).search("氢燃料电池", k=2)
    crashing = FakeEmbedder(settings)
    crashing.fail_after = 3
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(settings, crashing, rebuild=True)
    after = _retriever(settings, fake_embedder).search("氢燃料电池", k=2)
    assert [p.chunk.id for p in after] == [p.chunk.id for p in before]
    assert build_index(settings, fake_embedder).unchanged


def test_bad_file_is_skipped_and_loses_nothing(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    first = build_index(settings, fake_embedder)
    (settings.corpus_dir / "bad.txt").write_bytes(bytes(range(256)) * 4)
    report = build_index(settings, fake_embedder)
    assert report.documents == 1 and report.chunks == first.chunks
    assert report.skipped == [
        "skipped bad.txt: not text in any known encoding (UTF-8, GB18030, Big5, UTF-16); is it a binary file?"
    ]
    assert "skipped bad.txt" in report.summary()
    assert _retriever(settings, fake_embedder).search("北奔重汽", k=1)


def test_search_input_errors(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    r = _retriever(settings, fake_embedder)
    with pytest.raises(UserError, match="empty query"):
        r.search("   ")
    with pytest.raises(UserError, match="limit is 2000"):
        r.search("问" * 2001)


def test_missing_index_without_auto_index(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(UserError, match="qingshan-bot index"):
        _retriever(settings, fake_embedder).load()


def test_auto_index_builds_on_first_use(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    r = Retriever(settings, fake_embedder)
    assert r.search("北重集团", k=1)


def test_keyword_side_only_for_chinese(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(settings, fake_embedder)
    r = _retriever(settings, fake_embedder)
    assert all(p.keyword_rank is None for p in r.search("hydrogen trucks", k=3))
    assert any(p.keyword_rank is not None for p in r.search("氢燃料重卡", k=3))


def test_many_documents_batched(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    for i in range(300):
        (corpus / f"doc{i:03d}.txt").write_text(f"第{i}号文档。内容编号{i}，关于项目{i % 7}。", encoding="utf-8")
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "i", embedding_model="fake", collection="many")
    emb = FakeEmbedder(s)
    report = build_index(s, emb)
    assert report.documents == 300 and report.chunks == 300
    store = Store(s)
    store._batch_size = lambda: 64  # type: ignore[method-assign]  # force several write batches
    report = build_index(s, emb, rebuild=True, store=store)
    hits = _retriever(s, emb).search("第123号文档", k=3)
    assert hits[0].chunk.doc_id == "doc123"


def test_rrf_fuse() -> None:
    fused = rrf_fuse([[1, 2, 3], [3, 1]], k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


HIDDEN = "\u200b\u202e\u2066\u200d\ufeff\u00ad\U000e0041"  # zero-width, bidi, tag characters


@pytest.mark.parametrize("where", [2, 3, 5])
def test_invisible_characters_inside_a_name_find_the_same_passage(
    settings: Settings, fake_embedder: FakeEmbedder, where: int
) -> None:
    from bot.core.text import clean_question

    build_index(settings, fake_embedder)
    r = _retriever(settings, fake_embedder)
    plain = "北奔重汽和哪家公司合作氢能"
    hidden = plain[:where] + HIDDEN + plain[where:]
    expected = [p.chunk.id for p in r.search(plain, k=3)]
    assert "喜玛拉雅" in r.search(plain, k=1)[0].chunk.text
    # Through the question cleaner (every adapter) and straight into search (the CLI's `search`).
    assert [p.chunk.id for p in r.search(clean_question(hidden, 2000), k=3)] == expected
    assert [p.chunk.id for p in r.search(hidden, k=3)] == expected


def test_a_name_hidden_in_a_document_is_found_by_the_plain_question(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    doc = f"甲乙{HIDDEN}丙丁公司于2023年在青山区建设了氢能装备试验场。"
    (settings.corpus_dir / "hidden.txt").write_text(doc, "utf-8")
    build_index(settings, fake_embedder)
    best = _retriever(settings, fake_embedder).search("甲乙丙丁公司建设了什么", k=1)[0]
    assert best.chunk.doc_id == "hidden" and "甲乙丙丁公司" in best.chunk.text


def test_the_loader_and_the_question_cleaner_strip_the_same_characters() -> None:
    from bot.core.text import INVISIBLE, clean_question
    from bot.ingest.loader import _SPACES, clean_text

    checked = 0
    for cp in [*range(0x10000), *range(0xE0000, 0xE0080)]:
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or ch.isspace() or _SPACES.match(ch):
            continue  # surrogates are refused; whitespace is layout, collapsed by the loader
        raw = f"北{ch}奔"
        assert clean_question(raw, 100) == clean_text(raw), hex(cp)
        checked += INVISIBLE.match(ch) is not None
    assert checked >= 30  # the invisible set itself was among them
