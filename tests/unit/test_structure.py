"""The list structure of a document: counted items in the paragraphs after an announcement,
and the items of a paragraph led by its topic. Built on hand-made chunks, no model."""

from __future__ import annotations

from bot.answering.sentences import Sentence, passage_sentences
from bot.answering.structure import DocumentMap, count_of_titles, counted
from bot.ingest.chunking import Chunk, chunk_document
from bot.ingest.loader import Document
from bot.retrieval.retriever import Passage

TEXT = (
    "青山区以行动为契机,推动园区开展创建工作。目前,该区正重点建设三个创新平台。\n"
    "甲创新中心。该中心由青山区与甲公司合作建设,已引入团队。\n"
    "乙科创中心。该中心由青山区与乙集团合作建设,正在建设。\n"
    "丙检测中心。该中心由丙所与丁院合作建设,形成服务体系。\n"
    "推进智能制造领域技术创新。青山区重点发展装备制造。引进戊公司,合作建立研究院。落地己运营中心,打造示范区。\n"
    "青山区还有一段没有标题的文字,说的是别的事情。这一段有两句话。"
)


def _map_and_sentences() -> tuple[DocumentMap, list]:
    doc = Document("d", "t", TEXT, "src")
    chunks = chunk_document(doc, chunk_size=80, chunk_overlap=0)
    sents = passage_sentences([Passage(c, 1.0, 1) for c in chunks])
    return DocumentMap(chunks), sents


def _find(sents: list, needle: str):
    return next(s for s in sents if needle in s.text)


def test_a_count_announces_the_titled_paragraphs_after_it() -> None:
    dm, sents = _map_and_sentences()
    items = dm.list_items(_find(sents, "三个创新平台"), "青山区重点建设的三个创新平台是哪些？")
    assert [s.text for s in items] == ["甲创新中心。", "乙科创中心。", "丙检测中心。"]
    for s in items:  # each item is an exact span of the document
        assert TEXT[s.start : s.end] == s.text
    # The paragraph's other sentence leads to the same items, announcement included.
    items = dm.list_items(_find(sents, "推动园区开展"), "为了创建园区建设了哪些平台？")
    assert items[0].text.endswith("三个创新平台。") and len(items) == 4


def test_a_topic_lead_the_question_names_brings_its_paragraph() -> None:
    dm, sents = _map_and_sentences()
    lead = _find(sents, "推进智能制造领域技术创新")
    items = dm.list_items(lead, "在智能制造领域引进了哪些机构？")
    assert [s.text for s in items] == ["引进戊公司,合作建立研究院。", "落地己运营中心,打造示范区。"]
    # A question about something else does not take the paragraph for its list.
    assert dm.list_items(lead, "丙检测中心是谁建设的？") == []


def test_sentences_that_introduce_nothing_give_no_items() -> None:
    dm, sents = _map_and_sentences()
    assert dm.list_items(_find(sents, "没有标题"), "青山区有哪些事情？") == []
    assert dm.list_items(_find(sents, "丁院"), "丙检测中心和谁合作？") == []


AGREEMENTS = (
    "双方先后签署了《氢燃料电池车辆产业化合作协议》《加氢站项目战略合作协议》和《共建研发中心协议》,"
    "共同完成了18吨抑尘车的产品开发。"
)


def test_titles_listed_in_a_row_are_counted() -> None:
    assert counted(AGREEMENTS) == {"3"}
    assert counted("推荐《甲方案》申报项目。") == set()  # one title is no list
    p = Passage(Chunk("c", "d", "t", AGREEMENTS, 0, len(AGREEMENTS), 0), 1.0, 1)
    s = Sentence(AGREEMENTS, 0, len(AGREEMENTS), p)
    note = count_of_titles("北奔重汽与喜玛拉雅先后签署了几份协议？", [s], "双方签署了三个协议。")
    assert note is None  # the answer says how many already
    assert count_of_titles("北奔重汽与喜玛拉雅先后签署了几份协议？", [s], "") == (
        "共3份：《氢燃料电池车辆产业化合作协议》《加氢站项目战略合作协议》《共建研发中心协议》。",
        s,
    )
    assert count_of_titles("双方签署了哪些协议？", [s], "") is None  # no count asked
