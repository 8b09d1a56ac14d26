"""Sentences of retrieved passages, with offsets into their document, and how well a claim is
supported by one. Shared by the extractive mode (to choose) and the verifier (to check).
Sentences that instruct the assistant (an indirect injection planted in a document) are left
out here, once, so no answer quotes them and no model reads them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.answering.guard import is_planted_instruction
from bot.core.text import small_number, strip_markers
from bot.ingest.chunking import HEADING_BREAKERS, HEADING_MAX, sentence_spans
from bot.retrieval.keyword import tokenize
from bot.retrieval.retriever import Passage

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORDISH = re.compile(r"[\w]", re.UNICODE)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # in the document
    end: int
    passage: Passage

    @property
    def key(self) -> tuple[str, int, int]:
        # The end too: neighbours quoted as one start where the first of them does, and must
        # not take its citation (whose quote is that sentence alone).
        return (self.passage.chunk.doc_id, self.start, self.end)


def passage_sentences(passages: list[Passage]) -> list[Sentence]:
    """Every sentence of the passages, deduplicated across overlapping chunks."""
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for p in passages:
        c = p.chunk
        for line_start, line in _lines(c.text):
            for s, e in _glued(line):
                piece = line[s:e].strip()
                # A sentence that instructs the assistant is data that must never act: it is
                # neither quoted nor shown to a model (so neither read as a prompt).
                if not _WORDISH.search(piece) or is_planted_instruction(piece):
                    continue
                offset = line[s:e].find(piece)
                start = c.start + line_start + s + offset
                key = (c.doc_id, start)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Sentence(piece, start, start + len(piece), p))
    return out


def overlaps(a: Sentence, b: Sentence) -> bool:
    """Whether two sentences share text of one document (overlapping chunks cut it differently)."""
    return a.passage.chunk.doc_id == b.passage.chunk.doc_id and a.start < b.end and b.start < a.end


def joined(sentences: list[Sentence]) -> list[Sentence]:
    """Sentences in the order given, where one follows another in the same passage with nothing
    but spaces between them, quoted as one: an answer the text states in two sentences reads
    (and is cited) as the one passage it is, not two quotes split by a marker."""
    out: list[Sentence] = []
    for s in sentences:
        if out and (prev := out[-1]).passage.chunk.id == s.passage.chunk.id and prev.end <= s.start:
            c = s.passage.chunk
            if not c.text[prev.end - c.start : s.start - c.start].strip(" \t\u3000"):
                out[-1] = Sentence(c.text[prev.start - c.start : s.end - c.start], prev.start, s.end, s.passage)
                continue
        out.append(s)
    return out


def _glued(line: str) -> list[tuple[int, int]]:
    """Sentence spans where a short lead-in title ("某某园区科创中心。") joins the next
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


# A Chinese numeral counting something ("两项目", "四个平台", "十四位"): compared as digits.
_CN_COUNT = re.compile(r"([零一二两三四五六七八九十]{1,3})(?=[个项家名位份所座条种批次大]|项目|年)")


# A Chinese amount with a magnitude ("五千万", "三百"): kept as written, so a claim stating one
# needs the same words in its source (the verifier let "大约五千万元" through without this).
_CN_AMOUNT = re.compile(r"[一二两三四五六七八九十]+[百千万亿][零一二两三四五六七八九十百千万亿]*")


def numbers(text: str) -> set[str]:
    """Numbers as written (NFKC, thousands separators removed), plus counted Chinese numerals."""
    text = unicodedata.normalize("NFKC", text).replace(",", "")
    found = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    for m in _CN_COUNT.finditer(text):
        value = small_number(m.group(1))
        if value is not None:
            found.add(str(value))
    found.update(_CN_AMOUNT.findall(text))
    return found


def overlap(claim: str, source: str) -> float:
    """Share of the claim's character bigrams (and words) found in the source: 0..1."""
    c = {t for t in tokenize(strip_markers(claim)) if len(t) > 1}
    if not c:
        return 0.0
    s = set(tokenize(source))
    return len(c & s) / len(c)
