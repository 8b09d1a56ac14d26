"""The verifier alone, on hand-built context sentences."""

from __future__ import annotations

from bot.answering.sentences import Sentence, joined, numbers
from bot.answering.verify import Verifier, adds_to, english_amounts, joins_apart, names_match, split_claims, verify
from bot.ingest.chunking import Chunk
from bot.retrieval.retriever import Passage

DOC = (
    "推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”申报项目。"
    "推荐中核北方、弘元新材料两项目入选榜单。"
)


def _context() -> list[Sentence]:
    chunk = Chunk("c1", "d", "t", DOC, 0, len(DOC), 0)
    p = Passage(chunk, 1.0, 1)
    cut = DOC.index("。") + 1
    return [Sentence(DOC[:cut], 0, cut, p), Sentence(DOC[cut:], cut, len(DOC), p)]


def no_similarity(claim: str, texts: list[str]) -> list[float]:
    return [0.0] * len(texts)


def test_wrong_company_name_is_not_supported() -> None:
    v = verify("推荐北奔集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”。[1]", _context(), no_similarity)
    assert v.text == "" and v.dropped
    ok = verify(
        "推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”。[1]", _context(), no_similarity
    )
    assert ok.text.endswith("[1]") and ok.citations[0].quote == _context()[0].text


def test_chinese_numerals_count_as_numbers() -> None:
    assert numbers("两项目入选") == {"2"} and numbers("十四位专家") == {"14"}
    assert "五千万" in numbers("大约五千万元")  # an amount in words is a number too
    v = verify("2个项目入选了榜单。[2]", _context(), no_similarity)
    assert v.text == "2个项目入选了榜单。[1]"  # renumbered: the only citation is [1]


def test_markers_opening_lines_belong_to_their_line() -> None:
    assert split_claims("[1] 甲句。\n[2] 乙句。") == [("甲句。", [1]), ("乙句。", [2])]
    assert split_claims("甲句。[1] 乙句。[2]") == [("甲句。", [1]), ("乙句。", [2])]


def test_citation_pointing_nowhere_is_removed_or_recited() -> None:
    v = verify("推荐北重集团申报项目。[7]", _context(), no_similarity)
    assert "[7]" not in v.text and v.recited == 1 and v.text.endswith("[1]")


def _stream(draft: str) -> tuple[list[str], Verifier]:
    v = Verifier(_context(), no_similarity)
    shown = [v.feed(ch) for ch in draft]
    shown.append(v.finish())
    return shown, v


def test_open_sentence_is_shown_before_it_ends_and_adds_up() -> None:
    draft = "推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”申报项目。[1]"
    shown, v = _stream(draft)
    end = draft.index("。")
    assert "".join(shown[:end]), "nothing was shown before the sentence ended"
    assert "".join(shown) == v.result().text == draft


def test_a_failing_tail_ends_the_sentence_at_its_verified_head() -> None:
    shown, v = _stream("推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”，总投资999万元。")
    text = v.result().text
    assert "".join(shown) == text and "999" not in text and text.endswith("……[1]")
    assert any("999" in d for d in v.dropped)


def test_list_numbering_is_layout_not_a_number() -> None:
    v = verify("以下两项：\n1. 推荐中核北方、弘元新材料两项目入选榜单。[2]", _context(), no_similarity)
    assert v.text.startswith("推荐中核北方") and v.citations
    assert split_claims("3. 2021年有19家。") == [("2021年有19家。", [])]


def test_words_before_a_name_suffix_are_not_a_name() -> None:
    source = "2021年,青山区拥有高新技术企业19家、科技型中小企业11家。"
    assert names_match("截至2021年，青山区的科技型中小企业有11家。", source)
    assert not names_match("北奔集团牵头成立。", "北重集团牵头成立。")


def test_an_english_echo_of_the_question_is_not_an_answer() -> None:
    q = "Which company leads the Baotou Equipment Industry Technology Innovation Center?"
    assert not adds_to("The company that leads the Baotou Equipment Industry Technology Innovation Center is.", q)
    assert adds_to("Beiben Heavy Truck (北奔重汽) leads it.", q)


def test_list_answers_are_shown_a_clause_at_a_time() -> None:
    draft = "推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”，申报项目。"
    head = draft[: draft.index("，") + 1]
    eager, lazy = Verifier(_context(), no_similarity), Verifier(_context(), no_similarity, step=False)
    assert "".join(eager.feed(ch) for ch in head[:-1])  # a few characters at a time
    assert "".join(lazy.feed(ch) for ch in head[:-1]) == ""  # nothing before a clause mark
    assert lazy.feed("，") == head


def test_a_list_claim_is_supported_by_several_sentences_together() -> None:
    ctx = _context()
    listed = "推荐了北重集团的钢管产品研发，以及中核北方、弘元新材料两项目。"  # under half of each
    v = verify(listed + "[1]", ctx, no_similarity)
    assert v.text == listed + "[1][2]" and [c.quote for c in v.citations] == [s.text for s in ctx]
    # Together they still must state its numbers and its names.
    assert verify(listed.replace("两项目", "三项目") + "[1]", ctx, no_similarity).text == ""
    assert verify(listed.replace("中核北方", "中核南方公司") + "[1]", ctx, no_similarity).text == ""
    # Words from neither sentence are not supported by both.
    assert verify("推荐北重集团和中核北方建设航天城、海港、机场和高速铁路网络。[1]", ctx, no_similarity).text == ""


def test_a_total_may_add_up_the_numbers_of_its_source() -> None:
    doc = "2021年,青山区拥有高新技术企业19家、科技型中小企业11家。"
    p = Passage(Chunk("c", "d", "t", doc, 0, len(doc), 0), 1.0, 1)
    ctx = [Sentence(doc, 0, len(doc), p)]
    claim = "2021年青山区的高新技术企业和科技型中小企业一共30家。[1]"
    assert verify(claim, ctx, no_similarity, "两类企业加起来一共多少家？").text == claim
    assert verify(claim, ctx, no_similarity, "两类企业各有多少家？").text == ""  # no total asked
    assert verify(claim.replace("30", "31"), ctx, no_similarity, "加起来一共多少家？").text == ""


def test_sentences_of_different_documents_do_not_support_one_claim_together() -> None:
    a = "AGG01是一种蛋白质，在实验中证实比青霉素有效。"
    b = "又称士兵草，有抗发炎、利尿和抗菌的功效。"
    pa = Passage(Chunk("ca", "kangaroo", "t", a, 0, len(a), 0), 1.0, 1)
    pb = Passage(Chunk("cb", "herb", "t", b, 0, len(b), 0), 1.0, 2)
    ctx = [Sentence(a, 0, len(a), pa), Sentence(b, 0, len(b), pb)]
    assert verify("AGG01是一种蛋白质，具有抗发炎、利尿和抗菌的功效。[1][2]", ctx, no_similarity).text == ""


def test_english_amounts_are_checked_by_value_and_currency() -> None:
    doc = "2021年以来,该区已为39个项目争取科技资金3546.7万元。"
    assert english_amounts("It secured 35.467 million yuan for 39 projects.", doc) == {"35.467"}
    assert english_amounts("It secured RMB 35.47 million.", doc) == {"35.47"}  # rounded is the same
    assert english_amounts("It secured $3546.7 million.", doc) is None  # the source's digits, wrong value
    assert english_amounts("It secured 3546.7 million yuan.", doc) is None
    p = Passage(Chunk("c", "d", "t", doc, 0, len(doc), 0), 1.0, 1)
    ctx = [Sentence(doc, 0, len(doc), p)]

    def similar(claim: str, texts: list[str]) -> list[float]:
        return [0.9] * len(texts)

    assert verify("Qingshan secured 35.467 million yuan.[1]", ctx, similar).citations
    assert verify("Qingshan secured $3546.7 million.[1]", ctx, similar).text == ""


def test_two_things_joined_must_stand_in_one_clause_of_the_source() -> None:
    doc = (
        "该中心由包头市产品质量计量检测所与中国标准化研究院合作建设,已初步形成以包头质计所现有“包检道”系统为线上载体,"
        "以青山区政府提供的工作场所为线下窗口。"
    )
    assert joins_apart("青山区的检测平台是包头质计所与青山区政府合作建设的。", doc)
    assert not joins_apart("检测平台由包头市产品质量计量检测所与中国标准化研究院合作建设。", doc)
    assert not joins_apart("中国标准化研究院和包头市产品质量计量检测所合作建设了该中心。", doc)  # either order
    p = Passage(Chunk("c", "d", "t", doc, 0, len(doc), 0), 1.0, 1)
    ctx = [Sentence(doc, 0, len(doc), p)]
    assert verify("青山区的检测平台是包头质计所与青山区政府合作建设的。[1]", ctx, no_similarity).text == ""


def test_a_count_may_count_the_titles_its_source_lists() -> None:
    doc = "双方先后签署了《氢燃料电池车辆产业化合作协议》《加氢站项目战略合作协议》和《共建研发中心协议》。"
    p = Passage(Chunk("c", "d", "t", doc, 0, len(doc), 0), 1.0, 1)
    ctx = [Sentence(doc, 0, len(doc), p)]
    claim = (
        "双方先后签署了3份协议：《氢燃料电池车辆产业化合作协议》《加氢站项目战略合作协议》和《共建研发中心协议》。[1]"
    )
    assert verify(claim, ctx, no_similarity, "双方签署了几份协议？").text == claim
    assert verify(claim, ctx, no_similarity, "双方签署了哪些协议？").text == ""  # no count asked
    assert verify(claim.replace("3份", "4份"), ctx, no_similarity, "双方签署了几份协议？").text == ""


def test_neighbours_quoted_after_an_answer_get_a_citation_of_their_own() -> None:
    """Local mode quotes the picked sentences after the model's answer, neighbours joined. The
    joined quote starts where its first sentence does; it once took that sentence's citation,
    whose quote does not hold the rest (faithfulness fell from 1.000 to 0.994 on the article)."""
    first, second = _context()
    v = Verifier(_context(), no_similarity)
    for ch in "推荐北重集团“先进超超临界630℃电站机组用G115大口径厚壁无缝钢管产品研发”申报项目。[1]":
        v.feed(ch)
    v.finish()
    tail = v.add_quotes(joined([first, second]), "原文：")
    assert tail == f"原文：{DOC}[2]"
    result = v.result()
    assert [c.quote for c in result.citations] == [first.text, DOC]
