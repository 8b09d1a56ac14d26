"""Sentences of retrieved passages, with offsets into their document, and how well a claim is
supported by one. Shared by the extractive mode (to choose) and the verifier (to check)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.chunking import HEADING_BREAKERS, HEADING_MAX, sentence_spans
from bot.keyword import tokenize
from bot.retrieval import Passage

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MARKER = re.compile(r"\[(\d{1,2})\]")
_WORDISH = re.compile(r"[\w]", re.UNICODE)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # in the document
    end: int
    passage: Passage

    @property
    def key(self) -> tuple[str, int]:
        return (self.passage.chunk.doc_id, self.start)


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    """Every sentence of the passages, deduplicated across overlapping chunks."""
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for p in passages:
        c = p.chunk
        for line_start, line in _lines(c.text):
            for s, e in _glued(line):
                piece = line[s:e].strip()
                if not _WORDISH.search(piece):
                    continue
                offset = line[s:e].find(piece)
                start = c.start + line_start + s + offset
                key = (c.doc_id, start)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Sentence(piece, start, start + len(piece), p))
    return out


def _glued(line: str) -> list[tuple[int, int]]:
    """Sentence spans where a short lead-in title ("包头装备园区科创中心。") joins the next
    sentence, so "该中心由……" keeps its subject when quoted alone."""
    spans = sentence_spans(line, 0, len(line))
    if len(spans) > 1:
        s0, e0 = spans[0]
        if e0 - s0 <= HEADING_MAX and not HEADING_BREAKERS.search(line[s0:e0]):
            spans = [(s0, spans[1][1]), *spans[2:]]
    return spans


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


_CN_DIGIT = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# A Chinese numeral counting something ("两项目", "四个平台", "十四位"): compared as digits.
_CN_COUNT = re.compile(r"([零一二两三四五六七八九十]{1,3})(?=[个项家名位份所座条种批次大]|项目|年)")


# A Chinese amount with a magnitude ("五千万", "三百"): kept as written, so a claim stating one
# needs the same words in its source (the verifier let "大约五千万元" through without this).
_CN_AMOUNT = re.compile(r"[一二两三四五六七八九十]+[百千万亿][零一二两三四五六七八九十百千万亿]*")


def _cn_value(s: str) -> int | None:
    if "十" not in s:
        return _CN_DIGIT.get(s) if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    t = _CN_DIGIT.get(tens, 0 if tens else 1) if len(tens) <= 1 else None
    o = _CN_DIGIT.get(ones, 0) if len(ones) <= 1 else None
    return None if t is None or o is None else t * 10 + o


def numbers(text: str) -> set[str]:
    """Numbers as written (NFKC, thousands separators removed), plus counted Chinese numerals."""
    text = unicodedata.normalize("NFKC", text).replace(",", "")
    found = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    for m in _CN_COUNT.finditer(text):
        value = _cn_value(m.group(1))
        if value is not None:
            found.add(str(value))
    found.update(_CN_AMOUNT.findall(text))
    return found


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def overlap(claim: str, source: str) -> float:
    """Share of the claim's character bigrams (and words) found in the source: 0..1."""
    c = {t for t in tokenize(strip_markers(claim)) if len(t) > 1}
    if not c:
        return 0.0
    s = set(tokenize(source))
    return len(c & s) / len(c)
