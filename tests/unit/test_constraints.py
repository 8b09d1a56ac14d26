"""The names a question asks about (jieba's real tagger, no fakes) and whether a text names them."""

from __future__ import annotations

from bot.answering.constraints import names, names_in, unnamed


def test_people_places_organisations_and_latin_terms_are_names() -> None:
    assert "范廷颂" in names("范廷颂是什么时候被任为主教的？")
    assert "GDP" in names("青山区2021年的地区生产总值(GDP)是多少？")
    assert "清华大学" in names("北重集团和清华大学合作了吗？")
    assert names("生命数耗完即算为什么？") == ()  # nothing named: nothing to check


def test_titles_quoted_terms_codes_and_unknown_terms_are_names() -> None:
    assert names("《千年女王》漫画是谁创作的？") == ("千年女王",)
    assert "乡里制" in names("“乡里制”可追溯到什么时期？")
    assert "T-92" in names("对T-92 40毫米快砲的定位是怎样的？")
    assert "刺角瓜" in names("刺角瓜又名什么？")  # a term jieba's dictionary does not know
    assert "2021" not in "".join(names("青山区2021年有多少家高新技术企业？"))  # a year is no code


def test_a_name_after_a_question_word_is_the_kind_of_answer_not_a_constraint() -> None:
    # "哪位帝王" asks for an emperor; the text names one, never the word 帝王.
    assert "帝王" not in names("元皇后是哪位帝王的皇后？")


def test_a_shorter_or_fuller_form_names_the_same_thing() -> None:
    assert names_in("锂电池", "高能锂离子电池含硅负极材料")
    assert names_in("计算机学院", "计算机科学与技术学院2018年招生")
    assert not names_in("罗保铭", "1992年至1999年，他担任了外交部国际司司长")
    # jieba glues a one-character word onto a name it has never seen ("巴利冈是").
    assert names_in("巴利冈是", "让-皮埃尔·巴利冈（法语：Jean-Pierre Balligand）")


def test_unnamed_lists_what_the_text_never_mentions() -> None:
    text = "北奔重汽与广东喜玛拉雅氢能科技有限公司签订了战略合作协议。"
    assert unnamed("北奔重汽和喜玛拉雅签了什么协议？", text) == []
    assert unnamed("北奔重汽和丰田签了什么协议？", text) == ["丰田"]
    assert unnamed("北奔重汽的GDP是多少？", text) == ["GDP"]
