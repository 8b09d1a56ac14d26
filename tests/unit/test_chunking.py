from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from bot.ingest.chunking import chunk_document, sentence_spans
from bot.ingest.loader import Document, load_corpus

SENT_END = "。！？；!?;"


@pytest.fixture
def article(corpus_dir: Path) -> Document:
    return load_corpus(corpus_dir)[0]


@pytest.mark.parametrize(("size", "overlap"), [(150, 30), (220, 60), (300, 0)])
def test_offsets_round_trip_and_sizes(article: Document, size: int, overlap: int) -> None:
    chunks = chunk_document(article, size, overlap)
    assert chunks
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert c.doc_id == article.id and c.title == article.title
        assert c.text[0] not in SENT_END, c.text
        assert "请输入验证码" not in c.text
        assert len(c.text) <= size + 30  # a glued heading may add a short line
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    content = {i for i, ch in enumerate(article.text) if not ch.isspace()}
    assert content <= covered, "every character of the document is in some chunk"


def test_headings_join_the_text_after_them(article: Document) -> None:
    chunks = chunk_document(article, 220, 60)
    for heading in ["包头装备工业技术创新中心。", "培育企业核心价值", "项目建设集聚创新资源"]:
        holders = [c for c in chunks if heading in c.text]
        assert holders
        for c in holders:
            assert not c.text.endswith(heading)
            assert len(c.text) > len(heading) + 20
    lead = next(c for c in chunks if c.text.startswith("包头装备工业技术创新中心。"))
    assert "由北奔重汽牵头成立" in lead.text


def test_stable_ids(article: Document) -> None:
    a = chunk_document(article, 220, 60)
    b = chunk_document(article, 220, 60)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    # Editing one paragraph changes only the ids of the chunks that hold it.
    edited = Document(article.id, article.title, article.text.replace("19家", "20家"))
    c = chunk_document(edited, 220, 60)
    changed = {x.id for x in c} - {x.id for x in a}
    assert len(changed) == 1


def test_overlap_repeats_whole_sentences_only(article: Document) -> None:
    chunks = chunk_document(article, 220, 60)
    overlaps = [(p, n) for p, n in itertools.pairwise(chunks) if n.start < p.end]
    assert overlaps, "long paragraphs produce overlapping chunks"
    for prev, nxt in overlaps:
        assert prev.end - nxt.start <= 60
        assert article.text[nxt.start - 1] in SENT_END + "\n"


def test_long_sentence_is_split_at_commas() -> None:
    text = "，".join(f"第{i}个分句内容比较长一些" for i in range(40)) + "。"
    doc = Document("long", "t", text)
    chunks = chunk_document(doc, 100, 0)
    assert len(chunks) > 3
    for c in chunks:
        assert text[c.start : c.end] == c.text and len(c.text) <= 100
        assert c.text[0] not in "，。"


def test_random_documents_round_trip() -> None:
    rng = random.Random(7)
    alphabet = list("青山区科技创新企业项目中心合作建设氢能材料") + list("，。！？；、 \n“”abc123.")
    for n in range(60):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 900))).strip()
        doc = Document(f"d{n}", "t", text)
        for c in chunk_document(doc, rng.choice([60, 150, 300]), rng.choice([0, 30])):
            assert text[c.start : c.end] == c.text and c.text.strip() == c.text and c.text


def test_sentence_spans_keep_closing_quotes() -> None:
    text = "他说：“好。”然后走了！最后"
    spans = sentence_spans(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == ["他说：“好。”", "然后走了！", "最后"]


def test_a_full_stop_after_an_initial_or_a_title_ends_no_sentence() -> None:
    """ "John H. McArthur" was cut in two, and an answer quoted half the name."""
    text = "现任主席是约翰·麦克阿瑟（John H. McArthur）教授。他曾与Dr. Li共事. 后来退休。"
    spans = sentence_spans(text, 0, len(text))
    assert [text[s:e].strip() for s, e in spans] == [
        "现任主席是约翰·麦克阿瑟（John H. McArthur）教授。",
        "他曾与Dr. Li共事.",
        "后来退休。",
    ]
