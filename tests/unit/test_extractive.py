"""What kind of fact a question asks for, and whether a text holds one (the refusal check)."""

from __future__ import annotations

from bot.answering.extractive import missing_fact_in

MEETING = "去年,青山区组织召开科技成果发布对接会,邀请内蒙古科技大学等院校共14位教授、专家发布最新科研成果。"


def test_a_day_is_not_answered_by_a_year() -> None:
    assert missing_fact_in("那场对接会具体是哪天开的？", MEETING)
    assert not missing_fact_in("那场对接会是什么时候开的？", MEETING)  # "去年" answers when
    assert not missing_fact_in("对接会是哪天开的？", "对接会于2021年5月12日召开。")


def test_a_place_must_be_named_where_one_is_asked() -> None:
    assert missing_fact_in("对接会在哪里召开的？", MEETING)
    held = "首届比赛于2008年12月11日至22日在南京市浦口区明发珍珠泉大酒店举行。"
    assert not missing_fact_in("首届比赛在哪里举行？", held)


def test_capacity_and_scale_must_be_stated() -> None:
    project = "推动中核北方与中核汇能建设风光储氢一体化项目,目前正在草拟政府框架协议。"
    assert missing_fact_in("风光储氢一体化项目装机规模有多大？", project)
    assert not missing_fact_in("这个项目的装机容量是多少？", "项目装机容量为200兆瓦。")
