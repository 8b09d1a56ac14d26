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


def test_a_measure_asked_for_must_be_stated_in_its_units() -> None:
    q = "蓝线裸顶鲷的体长约是多少公分？"
    assert missing_fact_in(q, "蓝线裸顶鲷，又称蓝线白𫚭，为鲈形目龙占鱼科的其中一个种。") == "asks for a 长度"
    assert missing_fact_in(q, "体长可达80公分。") == ""
    assert missing_fact_in("纽西兰鸡毛松有多高？", "树高可达55米。") == ""
    assert missing_fact_in("纽西兰鸡毛松有多高？", "是罗汉松科的一种。") == "asks for a 长度"
    assert missing_fact_in("单晶硅直径是多少英寸以上？", '无磁场大直径(≥12")半导体单晶硅研发') == ""
    # A duration is not a length, and a figure in another unit does not answer.
    assert missing_fact_in("飞到那里要多长时间？", "航程很远。") == ""
    assert missing_fact_in("他去世时多少岁？", "他于1873年去世。") == "asks for a 年龄"


def test_a_time_may_be_said_in_words() -> None:
    q = "什么时候双方代表互换批准书？"
    assert missing_fact_in(q, "一九六一年九月十日，双方代表在平壤互换批准书。") == ""
    assert missing_fact_in("这条线什么时候提供服务？", "只在平日早上提供服务。") == ""
    assert missing_fact_in("成书时间是什么时候？", "可能晚至孔雀王朝时期才出现。") == ""
    assert missing_fact_in("这条线什么时候提供服务？", "来往香港仔至湾仔。").startswith("asks for")
