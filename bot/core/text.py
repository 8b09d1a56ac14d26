"""Text helpers every stage shares, written once: CJK detection, Chinese numerals, the invisible
and control characters removed from documents and questions alike, and `[n]` citation markers.

The corpus loader and the question cleaner must strip the *same* characters: a question pasted
with a zero-width space inside a name must find the passage that holds the name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.core.errors import UserError

# CJK Unified Ideographs, Extension A and the compatibility block.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{CJK}]")

# Zero-width, bidi-control and soft-hyphen characters: they carry no meaning in text and break
# matching. Unicode tag characters (U+E0000-E007F) too: invisible letters that smuggle hidden
# instructions past a reader ("ASCII smuggling").
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\U000e0000-\U000e007f]")
# C0/C1 control characters except newline and tab.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")

# A citation marker in an answer: "[3]".
MARKER = re.compile(r"\[(\d{1,2})\]")

# Chinese numerals of counts and ordinals up to 十 (两 counts as 2).
CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def cjk_count(text: str) -> int:
    return len(_CJK_CHAR.findall(text))


def small_number(word: str) -> int | None:
    """'3', '四', '十二', '二十' -> int (1-99); None for anything else."""
    if word.isdigit():
        return int(word)
    if not word or any(c not in CN_DIGITS for c in word):
        return None
    if "十" not in word:
        return CN_DIGITS[word] if len(word) == 1 else None
    tens, _, ones = word.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[ones] if ones else 0)


def strip_invisible(text: str) -> str:
    """Drop invisible and control characters (newlines and tabs stay)."""
    return CONTROL.sub("", INVISIBLE.sub("", text))


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def reject_surrogates(text: str, where: str) -> None:
    """Unpaired surrogates would fail later (UTF-8 output, SQLite): refuse them up front."""
    if _SURROGATE.search(text):
        raise UserError(f"{where} contains invalid characters (unpaired UTF-16 surrogates)")


def clean_question(question: Any, limit: int) -> str:
    """A user's question as every stage sees it: NFC, no invisible or control characters, bounded."""
    if not isinstance(question, str):
        raise UserError("the question must be a string")
    reject_surrogates(question, "the question")
    q = strip_invisible(unicodedata.normalize("NFC", question).replace("\r", "")).strip()
    if not q:
        raise UserError("the question is empty")
    if len(q) > limit:
        raise UserError(f"the question is {len(q)} characters; the limit is {limit}")
    return q
