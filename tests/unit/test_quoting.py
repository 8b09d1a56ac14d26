"""How picked sentences are quoted: neighbours in one passage as one quote with one citation,
text that overlapping chunks cut twice only once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.answering.answerer import _quoted
from bot.answering.extractive import SentencePicker, _apart
from bot.answering.sentences import joined, passage_sentences
from bot.core.settings import Settings
from bot.ingest.chunking import Chunk
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Passage, Retriever
from tests.support.fakes import FakeEmbedder

DOC = "次磷酸一般以水溶液出售，浓度五成。在有机化学中，次磷酸可以还原重氮盐。然后把氨基除去。\n另起一行。"
# A short lead ("次磷酸。") is glued to the sentence after it where a chunk starts with it.
GLUED = "次磷酸。在有机化学中，次磷酸可以还原重氮盐。然后把氨基除去。"


def _passage(start: int, end: int, rank: int = 1, doc: str = DOC) -> Passage:
    return Passage(Chunk(f"c{start}", "d", "次磷酸", doc[start:end], start, end, 0), 1.0, rank)


def test_neighbouring_sentences_are_quoted_as_one_passage() -> None:
    first, second, third, line = passage_sentences([_passage(0, len(DOC))])
    text, citations = _quoted([second, third, line])
    # The two neighbours read as the text has them, under one marker; a new line starts anew.
    assert text == "在有机化学中，次磷酸可以还原重氮盐。然后把氨基除去。[1]另起一行。[2]"
    assert [c.quote for c in citations] == ["在有机化学中，次磷酸可以还原重氮盐。然后把氨基除去。", "另起一行。"]
    c = citations[0]
    assert DOC[c.start : c.end] == c.quote and c.quote in c.text
    # Sentences apart in the text stay apart.
    assert [s.text for s in joined([first, third])] == [first.text, third.text]


def test_neighbours_in_different_chunks_are_not_joined() -> None:
    """A quote is cited to one passage, so it cannot run across two."""
    (a,) = passage_sentences([_passage(0, 15)])
    b = passage_sentences([_passage(15, len(DOC), rank=2)])
    assert a.end == b[0].start and len(joined([a, b[0]])) == 2


def test_text_two_chunks_cut_differently_is_ranked_once() -> None:
    whole = passage_sentences([_passage(0, len(GLUED), doc=GLUED)])
    inner = passage_sentences([_passage(4, len(GLUED), rank=2, doc=GLUED)])
    assert whole[0].text == GLUED[:22] and inner[0].text == GLUED[4:22]  # the same sentence twice
    pool = [whole[0], inner[0], *whole[1:]]
    kept = _apart(pool, np.arange(len(pool)))
    assert [pool[i].text for i in kept] == [GLUED[:22], "然后把氨基除去。"]


@pytest.mark.parametrize("size", [200, 50])
def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it(tmp_path: Path, size: int) -> None:
    """ "因此……受到严格管制" answers "为什么……受到管制？" only with the sentence before it, which
    holds the why; with small chunks (50) that sentence sits in the chunk before."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = (
        "次磷酸是一种磷的含氧酸，也是一种很强的还原剂。次磷酸盐可由白磷与热碱溶液反应制得。"
        "次磷酸可以将碘还原为氢碘酸，进而用于制造冰毒。"
        "因此，次磷酸被列为第一类易制毒化学品，购买及使用受到严格管制。\n"
        "这些规定在多数国家通行。\n"
    )
    (corpus / "acid.md").write_text(f"---\ntitle: 次磷酸\n---\n{body}", encoding="utf-8")
    settings = Settings(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        embedding_model="fake-bigram-hash",
        collection="acid",
        chunk_size=size,
        chunk_overlap=0,
    )
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    retriever = Retriever(settings, embedder, auto_index=False)
    picker = SentencePicker(retriever)
    question = "为什么次磷酸的购买及使用受到严格管制？"
    pick = picker.pick(question, retriever.search(question, k=1))
    why, so = (
        "次磷酸可以将碘还原为氢碘酸，进而用于制造冰毒。",
        "因此，次磷酸被列为第一类易制毒化学品，购买及使用受到严格管制。",
    )
    assert not pick.refused
    # One quote where one chunk holds both, two neighbouring quotes where two do.
    assert [s.text for s in pick.sentences] == ([why + so] if size == 200 else [why, so])
    # A sentence that opens its paragraph leans on nothing across the line break.
    lone = [s for s in retriever.chunks if s.text.startswith("这些")]
    assert lone and picker._antecedent(passage_sentences([Passage(lone[0], 0.0, 1)])[0]) is None
