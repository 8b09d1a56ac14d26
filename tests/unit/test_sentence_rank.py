"""How the extractive picker ranks the sentences of retrieved passages (fake embedder, real
keyword index): the words that decide are the ones only the answering sentence holds."""

from __future__ import annotations

from pathlib import Path

from bot.answering.extractive import SentencePicker
from bot.core.settings import Settings
from bot.retrieval.indexer import build_index
from bot.retrieval.retriever import Retriever
from tests.support.fakes import FakeEmbedder

PAGES = {
    "sea-bream.md": (
        "鲷鱼甲",
        "鲷鱼甲，又称红鳍鲷，为鲈形目笛鲷科的其中一个种。\n"
        "本鱼分布于西太平洋区，栖息在岩礁附近的沙质海域。\n"
        "体长可达50公分，体呈淡红色。\n"
        "以其他鱼类和甲壳类为食。\n",
    ),
    "garden.md": (
        "南湖公园",
        "南湖公园位于市区东部，是一座城市公园。\n公园占地约两平方公里，园内种有樟树。\n",
    ),
}


def test_a_sentence_that_leaves_its_documents_subject_unsaid_can_still_win(tmp_path: Path) -> None:
    """The sentence "体长可达50公分。" never repeats 鲷鱼甲, which only the lead and the title say; it must
    still beat the lead for "鲷鱼甲体长多少公分？" (the lead matched the rare name and won)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (title, body) in PAGES.items():
        (corpus / name).write_text(f"---\ntitle: {title}\n---\n{body}", encoding="utf-8")
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", embedding_model="fake-bigram-hash", collection="pages"
    )
    embedder = FakeEmbedder(settings)
    build_index(settings, embedder)
    retriever = Retriever(settings, embedder, auto_index=False)
    picker = SentencePicker(retriever)
    for question, said in [
        ("鲷鱼甲体长多少公分？", "体长可达50公分"),
        ("鲷鱼甲的体色是什么？", "体呈淡红色"),
        ("南湖公园占地多大？", "占地约两平方公里"),
    ]:
        ranked = picker.rank(question, retriever.search(question, k=5))
        assert said in ranked[0][0].text, (question, [s.text for s, _ in ranked[:3]])
    # The lead still answers what it says.
    ranked = picker.rank("鲷鱼甲属于哪一科？", retriever.search("鲷鱼甲属于哪一科？", k=5))
    assert "笛鲷科" in ranked[0][0].text
