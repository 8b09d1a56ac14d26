"""Figures a sentence states, with their unit and kind, and the totals an answer may add up.

A question asking for a total ("一共多少家？") may be answered with a sum its source implies
("高新技术企业19家、科技型中小企业11家" -> 30家). Only figures of one unit and one kind are
addends: a year, a date, an ordinal, a percentage, a code ("G115") or an approximate figure
("40余名") never is, so "2021年" and "19家" do not make 2040 of anything, and "39个项目" and
"四个创新平台" do not make 43 of anything either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from bot.core.text import small_number

# Counters and measures a figure can be a count or an amount of; longest first. Years, months,
# days, degrees and percentages are not here, so they are never addends.
_UNITS = sorted(
    (
        "家次 人次 项目 家 个 项 名 位 人 份 所 座 条 种 批 台 辆 件 篇 部 本 套 款 户 处 栋 间 支 "
        "枚 株 头 只 张 次 元 吨 公斤 千克 平方米 平方公里 公顷 亩 公里 千米 米 千瓦时 千瓦 兆瓦 立方米"
    ).split(),
    key=len,
    reverse=True,
)
_QTY_ZH = re.compile(
    r"(?P<num>\d+(?:\.\d+)?|[零一二两三四五六七八九十]{1,3})\s*(?P<approx>余|多)?\s*(?P<scale>万|亿)?"
    rf"(?P<unit>{'|'.join(_UNITS)})"
)
# An English figure and the word after it ("19 companies").
_QTY_EN = re.compile(r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s+(?P<unit>[a-z]{3,})\b")
_NOT_EN_UNIT = re.compile(r"^(percent|per|and|or|to|of|in|on|at|for|the|years?|months?|days?|plus|more)$")
# Before a figure: an ordinal (第3), a code (G115) or an approximation (约/近/超过…).
_BEFORE = re.compile(
    r"(?:第|[A-Za-z\-#№]|(?:约|近|逾|超|超过|大约|将近|不到|不足)\s*|\b(?:about|around|over|nearly|almost|some|than)\s+)$",
    re.I,
)
# After a figure's unit: an approximation, or a percentage said as "个百分点".
_AFTER = re.compile(r"^\s*(左右|以上|上下|以内|多|百分点|or more|plus|\+)", re.I)
# Characters that end the noun a counter introduces ("20家|企业的…").
_NOUN = re.compile(r"[\u4e00-\u9fff]{1,2}")
_NOT_NOUN = re.compile(r"[的和与及等、，,。；;：:在是了为从对把被将向给共其中]")
# Most figures of one sentence that are combined (sums of 2 or 3 of 12 is 286 sums).
MAX_FIGURES = 12


@dataclass(frozen=True)
class Figure:
    value: Decimal
    unit: str  # "家", "万元", "companie"
    noun: str  # what it counts when the text says so right after it ("项目" in "39个项目"), else ""


def _english(text: str) -> list[Figure]:
    out = []
    for m in _QTY_EN.finditer(text):
        num, unit = m.group("num"), m.group("unit").lower()
        if _NOT_EN_UNIT.match(unit) or _BEFORE.search(text[: m.start()]) or _AFTER.match(text[m.end() :]):
            continue
        if len(num) == 4 and 1800 <= int(float(num)) <= 2100:
            continue  # a year
        out.append(Figure(Decimal(num), unit.rstrip("s"), ""))
    return out


def figures(text: str) -> list[Figure]:
    """The figures `text` states that may be added: exact counts and amounts, each with its unit."""
    out = []
    for m in _QTY_ZH.finditer(text):
        raw = m.group("num")
        before, after = text[: m.start()], text[m.end() :]
        if m.group("approx") or _BEFORE.search(before) or _AFTER.match(after) or re.match(r"[A-Za-z]", after):
            continue
        value = Decimal(raw) if raw[0].isdigit() else _cn(raw)
        if value is None:
            continue
        noun = _NOUN.match(after)
        kind = _NOT_NOUN.split(noun.group(0))[0] if noun else ""
        out.append(Figure(value, (m.group("scale") or "") + m.group("unit"), kind))
    return out + _english(text)


def _cn(word: str) -> Decimal | None:
    n = small_number(word)
    return Decimal(n) if n is not None else None


def _fmt(value: Decimal) -> str:
    s = format(value, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def sums(text: str) -> dict[str, set[str]]:
    """Sums of two or three figures of one unit and kind that `text` states, each with its unit:
    "高新技术企业19家、科技型中小企业11家" -> {"30": {"家"}}."""
    figs = figures(text)[:MAX_FIGURES]
    out: dict[str, set[str]] = {}
    for n in (2, 3):
        for group in combinations(figs, n):
            first = group[0]
            if all(f.unit == first.unit and f.noun == first.noun for f in group):
                out.setdefault(_fmt(sum((f.value for f in group), Decimal(0))), set()).add(first.unit)
    return out


def units_fit(claim: str, values: set[str], allowed: dict[str, set[str]]) -> bool:
    """Whether the claim states each derived figure in `values` with the unit of its addends
    ("一共30家", not "一共30个项目"), or with no unit at all."""
    for f in figures(claim):
        value = _fmt(f.value)
        if value in values and value in allowed and f.unit not in allowed[value]:
            return False
    return True
