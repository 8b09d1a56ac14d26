"""Totals with meaning: only figures of one unit and kind add up, in the verifier and the scorer."""

from __future__ import annotations

import pytest

from bot.answering.quantities import figures, sums
from bot.answering.sentences import Sentence
from bot.answering.verify import totals, verify
from bot.evaluation.scoring import score
from bot.ingest.chunking import Chunk
from bot.retrieval.retriever import Passage
from tests.support import ARTICLE

FIRMS = "2021年,青山区拥有高新技术企业19家、科技型中小企业11家。"


def no_similarity(claim: str, texts: list[str]) -> list[float]:
    return [0.0] * len(texts)


def _verified(doc: str, claim: str, question: str = "加起来一共多少？") -> str:
    p = Passage(Chunk("c", "d", "t", doc, 0, len(doc), 0), 1.0, 1)
    return verify(claim, [Sentence(doc, 0, len(doc), p)], no_similarity, question).text


def test_the_article_supports_its_real_total() -> None:
    assert FIRMS in ARTICLE.read_text(encoding="utf-8")
    assert sums(FIRMS) == {"30": {"家"}}
    claim = "2021年青山区的高新技术企业和科技型中小企业一共30家。[1]"
    assert _verified(FIRMS, claim) == claim
    assert _verified(FIRMS, claim.replace("30家", "30")) == claim.replace("30家", "30")  # no unit: fine


@pytest.mark.parametrize(
    ("doc", "claim"),
    [
        # A year is no addend: 2021 + 19 (the case that passed before).
        (FIRMS, "青山区的企业一共2040家。[1]"),
        (FIRMS, "青山区的企业一共2032家。[1]"),
        # A date's parts are no addends.
        ("2021年5月12日,新增高新技术企业19家。", "新增高新技术企业一共24家。[1]"),
        ("2021年5月12日,新增高新技术企业19家。", "新增高新技术企业一共31家。[1]"),
        # An ordinal is no addend.
        ("第3批共有19家企业入选。", "入选企业一共22家。[1]"),
        # A percentage and a count do not add up.
        ("研发投入增长12%,新增企业19家。", "新增企业一共31家。[1]"),
        ("研发投入增长12个百分点,新增企业19家。", "新增企业一共31家。[1]"),
        # Figures of different units: projects and money, companies and people.
        ("2021年以来,该区已为39个项目争取科技资金3546.7万元。", "一共3585.7万元。[1]"),
        ("全区20家企业的40名科研人员参加对接会。", "参加对接会的一共60名。[1]"),
        # One unit, different kinds: projects and platforms.
        ("该区为39个项目争取资金,并建设四个创新平台。", "一共43个。[1]"),
        # An approximate figure is no addend.
        ("全区20家企业的40余名科研人员参加。", "一共60名。[1]"),
        ("近20家企业和11家院所参加。", "一共31家。[1]"),
        # Codes and temperatures are no figures.
        ("630℃电站机组用G115钢管共2家企业研发。", "一共117家。[1]"),
        # The right sum said in another unit.
        (FIRMS, "一共30个项目。[1]"),
    ],
)
def test_a_total_of_figures_that_do_not_add_up_is_dropped(doc: str, claim: str) -> None:
    assert _verified(doc, claim) == ""


def test_figures_of_one_unit_and_kind_add_up() -> None:
    three = "甲区高新技术企业19家、乙区11家、丙区5家。"
    assert {"30", "24", "16", "35"} <= totals(three)
    claim = "甲区高新技术企业19家、乙区11家、丙区5家，一共35家。[1]"
    assert _verified(three, claim) == claim
    money = "一期争取资金3546.7万元,二期争取资金100万元。"
    assert sums(money) == {"3646.7": {"万元"}}
    assert sums("There are 19 companies and 11 companies.") == {"30": {"companie"}}
    assert sums("In 2021 there were 19 companies.") == {}
    assert [f.noun for f in figures("39个项目和四个创新平台")] == ["项目", "创新"]


def test_the_scorer_holds_totals_to_the_same_rule() -> None:
    cite = {"n": 1, "chunk_id": "c", "doc_id": "d", "title": "t", "text": FIRMS, "quote": FIRMS, "start": 0, "end": 9}
    item = {"id": "t", "question": "两类企业加起来一共多少家？", "must": [["30"]]}

    def faithful(answer: str) -> float | None:
        row = {"answer": answer, "refused": False, "citations": [cite]}
        return score(item, row)["faithfulness"]

    assert faithful("高新技术企业和科技型中小企业一共30家。[1]") == 1.0
    assert faithful("高新技术企业和科技型中小企业一共2040家。[1]") == 0.0
    assert faithful("高新技术企业和科技型中小企业一共30个项目。[1]") == 0.0
