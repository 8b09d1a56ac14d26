"""The verifier alone, on hand-built context sentences."""

from __future__ import annotations

from bot.chunking import Chunk
from bot.retrieval import Passage
from bot.sentences import Sentence, numbers
from bot.verify import split_claims, verify

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
    v = verify("2个项目入选了榜单。[2]", _context(), no_similarity)
    assert v.text == "2个项目入选了榜单。[1]"  # renumbered: the only citation is [1]


def test_markers_opening_lines_belong_to_their_line() -> None:
    assert split_claims("[1] 甲句。\n[2] 乙句。") == [("甲句。", [1]), ("乙句。", [2])]
    assert split_claims("甲句。[1] 乙句。[2]") == [("甲句。", [1]), ("乙句。", [2])]


def test_citation_pointing_nowhere_is_removed_or_recited() -> None:
    v = verify("推荐北重集团申报项目。[7]", _context(), no_similarity)
    assert "[7]" not in v.text and v.recited == 1 and v.text.endswith("[1]")
