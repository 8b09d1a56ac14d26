"""Multi-part questions are split into parts that each ask something; single questions stay whole."""

from __future__ import annotations

import pytest

from bot.answering.parts import leans_back, split_parts


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "生命数耗完即算为什么？若游戏中离，则多少分钟内不得进行配对？",
            ["生命数耗完即算为什么？", "若游戏中离，则多少分钟内不得进行配对？"],
        ),
        ("谁牵头成立的，在哪里？", ["谁牵头成立的？", "在哪里？"]),
        ("甲公司和乙公司分别和谁合作？", ["甲公司和谁合作？", "乙公司和谁合作？"]),
        ("请问A项目投了多少钱？还有，B项目在哪里？", ["A项目投了多少钱？", "B项目在哪里？"]),
    ],
)
def test_several_asks_are_split(question: str, parts: list[str]) -> None:
    assert split_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "2008年，欧盟做出了什么批准？",  # a comma that sets the scene
        "自1981年起至2012年6月，他一直担任什么职务？",
        "四个平台分别是什么？",  # one predicate, no two subjects
        "检测平台是谁和谁合作建设的？",
        "那科技型中小企业呢？",
    ],
)
def test_one_ask_stays_whole(question: str) -> None:
    assert split_parts(question) == [question]


def test_a_part_without_its_own_subject_leans_back() -> None:
    assert leans_back("是哪年批的？") and leans_back("该漫画是由谁创作的？")
    assert not leans_back("纽西兰鸡毛松有多高？")
