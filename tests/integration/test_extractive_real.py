"""The extractive picker with the real embedding model on the article: choices whose outcome
depends on how real similarity scores sit together, which the fake embedder cannot show."""

from __future__ import annotations

from bot.answering.answerer import Answerer


def test_a_fact_about_something_else_does_not_answer(real_retriever) -> None:
    """When the best sentences lack the kind of fact asked for, the picker looks lower for one
    that holds it. That one must stand on its own words: the title's, which every sentence of
    the one-document article shares, let "目前,正在进行中心的建设……" answer when a centre was
    founded (the text never says), and would let the district's total for 39 projects answer
    what one project got."""
    answerer = Answerer(real_retriever.settings, real_retriever)
    ans = answerer.answer("包头装备园区科创中心是哪一年成立的？", mode="extractive")
    assert ans.refused and ans.text.startswith("文中未提及"), ans.text
    for question in [
        "北奔氢燃料重卡整车研制项目具体拿到了多少资金支持？",
        "弘元新材料的半导体单晶硅研发项目投入了多少研发经费？",
    ]:
        ans = answerer.answer(question, mode="extractive")
        assert ans.refused and "3546.7" not in ans.text, ans.text
    # A sum the text does give is still found.
    ans = answerer.answer("2021年以来青山区争取到的科技资金总额是多少？", mode="extractive")
    assert not ans.refused and "3546.7" in ans.text


def test_a_sentence_that_leaves_the_subject_to_the_title_answers(real_retriever) -> None:
    """The article's sentences leave 青山区 (in its title) unsaid as often as not; the title's
    words count for each of them, so a sentence naming the district again does not win on it."""
    answerer = Answerer(real_retriever.settings, real_retriever)
    ans = answerer.answer("2021年青山区共有多少家高新技术企业？", mode="extractive")
    assert not ans.refused and "19家" in ans.text
