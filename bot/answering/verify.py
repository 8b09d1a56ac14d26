"""Check an LLM draft against the sentences it was given, instead of trusting it.

Each answer sentence must be supported by the sentence it cites: enough of its characters
(bigrams) or meaning (embedding similarity, for English answers) and every number it states.
An unsupported sentence is re-cited to the context sentence that does support it, or dropped;
citation numbers that point nowhere are removed. What survives is renumbered 1..n.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.answering.quantities import sums, units_fit
from bot.answering.sentences import Sentence, numbers, overlap
from bot.answering.structure import COUNT, counted
from bot.answering.types import Citation
from bot.answering.wordlists import alternation
from bot.core.text import MARKER, strip_markers
from bot.retrieval.keyword import has_chinese, tokenize

_SPLIT = re.compile(r"(?<=[。！？!?；;])\s*|\n+|(?<=\.)\s+(?=[A-Z\[])")
_LEADINGMARKER = re.compile(r"^\s*((?:\[\d{1,2}\]\s*)+)")
_REFUSAL = re.compile(
    r"文中未提及|文中没有提到|文中并未提及|资料中没有|未提及|does not mention|not mentioned|no information",
    re.I,
)

MIN_OVERLAP = 0.5
HEAD_MIN = 8  # characters of an open sentence before any of it is shown
HEAD_STEP = 6  # and then at least this many more (or a clause mark) per release
MIN_SIMILARITY = 0.80
# A question asking for a total: the answer may add up numbers its source states.
TOTAL = re.compile(r"一共|总共|合计|共计|总计|加起来|加在一起|in total|altogether|combined", re.I)
# A claim supported only by several sentences together must be held by them more fully.
MIN_UNION = 0.7
MAX_UNION = 6
# Only a claim that lists things ("A、B和C") may draw on several sentences.
_ENUMERATES = re.compile(r"[、；;]|和|及|与")

Similarity = Callable[[str, list[str]], list[float]]


@dataclass(frozen=True)
class Verified:
    text: str
    citations: list[Citation]
    dropped: list[str]
    recited: int
    refused: bool


def split_claims(draft: str) -> list[tuple[str, list[int]]]:
    """(claim text without markers, cited numbers). Markers right after a full stop belong to
    the sentence before it; a marker opening a new line ("[2] …") belongs to that line."""
    claims: list[tuple[str, list[int]]] = []
    for line in draft.strip().splitlines():
        first = True
        for piece in _SPLIT.split(line):
            if not piece or not piece.strip():
                continue
            m = _LEADINGMARKER.match(piece)
            if m and claims and not first:
                text, nums = claims[-1]
                claims[-1] = (text, nums + [int(x) for x in MARKER.findall(m.group(1))])
                piece = piece[m.end() :]
            first = False
            text = _clean(piece)
            if not text:
                continue
            claims.append((text, [int(x) for x in MARKER.findall(piece)]))
    return claims


def _clean(piece: str) -> str:
    return _ENUMERATOR.sub("", strip_markers(piece)).strip()


def is_refusal(draft: str) -> bool:
    return bool(_REFUSAL.search(draft))


# Names end in these (data/name_suffixes.txt); the two characters before one must match the source.
_NAME_END = re.compile(rf"(?<=[\u4e00-\u9fff]{{2}})({alternation('name_suffixes')})")
# Two characters before a suffix that hold one of these are not a name: "某区的科技型企业"
# names no company called "区的科技" (that check dropped 2 of 30 correct bench answers).
_NOT_NAME = re.compile(r"[这该此个其本那的了和与在为是有到及并从对把被将向给等共]")
# "1." / "2、" list numbering is layout, not a number the answer states.
_ENUMERATOR = re.compile(r"^\s*(?:\d{1,2}|[一二三四五六七八九十])\s*[.．、)）]\s*(?!\d)")
_AMOUNT_EN = re.compile(r"(\d+(?:\.\d+)?)\s*(thousand|million|billion)\b", re.I)
_AMOUNT_ZH = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿)?")
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "万": 1e4, "亿": 1e8}
_FOREIGN_MONEY = re.compile(r"[$€£]|\b(dollars?|usd|euros?|pounds?)\b", re.I)
# Joining words, and the marks that end a clause (the article writes ASCII commas).
_JOIN = re.compile(r"[与和及跟同]")
_CLAUSE = re.compile(r"[，,；;。！？!?：:]")
_EN_WORD = re.compile(r"[A-Za-z]{3,}|\d+(?:\.\d+)?|[\u4e00-\u9fff]+")
_EN_STOP = frozenset(
    "the and that which who whom what this these those with from for was were are has have had did does "
    "its their there into about they them then than been being led leads lead answer article".split()
)


def names_match(claim: str, source: str) -> bool:
    for m in _NAME_END.finditer(claim):
        name = claim[m.start() - 2 : m.end()]
        if not _NOT_NAME.search(name[:2]) and name not in source:
            return False
    return True


def adds_to(claim: str, question: str) -> bool:
    """Whether an English claim says something the question did not: a 1.5B model sometimes
    restates the question with the answer left out ("The company that leads X is [2]."), and
    such an echo is as similar to the source as a real answer."""
    asked = {w.lower() for w in _EN_WORD.findall(question)}
    return any(w.lower() not in asked and w.lower() not in _EN_STOP for w in _EN_WORD.findall(claim))


def totals(text: str) -> set[str]:
    """Sums of two or three figures of one unit and kind a sentence states ("19家、11家" -> "30";
    never a year, a date, an ordinal or a percentage): the only numbers an answer may state that
    its source does not, and only when a total is asked (`bot.answering.quantities`)."""
    return set(sums(text))


def derived(text: str, *, total: bool, count: bool) -> set[str]:
    """Numbers `text` states only by implication that an answer may state when the question asks
    for them: sums of its numbers for a total, how many titles it lists for a count."""
    return (totals(text) if total else set()) | (counted(text) if count else set())


def english_amounts(claim: str, source: str) -> set[str] | None:
    """The numbers of an English claim's amounts ("35.467 million") that equal one the source
    states in 万/亿 ("3546.7万元"), or None when an amount does not, or names a currency the
    source does not: the model wrote "$3546.7 million" for 3546.7万元, whose digits the source has."""
    if _FOREIGN_MONEY.search(claim) and not _FOREIGN_MONEY.search(source):
        return None
    text = unicodedata.normalize("NFKC", source).replace(",", "")
    values = [float(n) * _SCALE.get(unit, 1.0) for n, unit in _AMOUNT_ZH.findall(text)]
    matched: set[str] = set()
    for n, unit in _AMOUNT_EN.findall(claim.replace(",", "")):
        value = float(n) * _SCALE[unit.lower()]
        if not any(math.isclose(value, v, rel_tol=1e-3) for v in values):
            return None
        matched |= numbers(n)
    return matched


def _known(piece: str, source: str, *, suffix: bool) -> str:
    """The longest end (suffix) or start of `piece`, three characters or more, in `source`."""
    best = ""
    for n in range(3, min(len(piece), 24) + 1):
        part = piece[-n:] if suffix else piece[:n]
        if part not in source:
            break
        best = part
    return best


def joins_apart(claim: str, source: str) -> bool:
    """Whether the claim joins two things ("A与B合作建设") that its source names in different
    clauses: "某区的检测平台是甲所与某区政府合作建设的" was cited to "该中心由乙所与丙院合作建设,
    已初步形成以甲所……,以某区政府提供的工作场所……", whose words it nearly all shares."""
    for m in _JOIN.finditer(claim):
        left = _known(_CLAUSE.split(claim[: m.start()])[-1], source, suffix=True)
        right = _known(_CLAUSE.split(claim[m.end() :])[0], source, suffix=False)
        if left and right and not any(left in c and right in c for c in _CLAUSE.split(source)):
            return True
    return False


def supports(
    claim: str, source: Sentence, similarity: float | None, *, total: bool = False, count: bool = False
) -> bool:
    stated = numbers(source.text) | numbers(source.passage.chunk.text)
    implied = derived(source.text, total=total, count=count)
    claimed = numbers(claim)
    if not has_chinese(claim):
        scaled = english_amounts(claim, source.passage.chunk.text)
        if scaled is None:
            return False
        claimed -= scaled
    if not claimed <= stated | implied:
        return False
    if total and not units_fit(claim, claimed - stated, sums(source.text)):
        return False  # "一共30个项目" from "19家、11家"
    if has_chinese(claim) and (not names_match(claim, source.passage.chunk.text) or joins_apart(claim, source.text)):
        return False
    if has_chinese(claim):
        return overlap(claim, source.text) >= MIN_OVERLAP
    return similarity is not None and similarity >= MIN_SIMILARITY


def supported_by_several(claim: str, context: list[Sentence]) -> list[Sentence]:
    """The sentences that together support a claim no single one does: a list answer names one
    item from each ("四个平台分别是A、B、C和D"). Each must add words of the claim, and together
    they must hold more of it than one sentence must (MIN_UNION), its numbers and its names."""
    words = {t for t in tokenize(strip_markers(claim)) if len(t) > 1}
    if not words or not _ENUMERATES.search(claim):
        return []
    held = [words & set(tokenize(s.text)) for s in context]
    chosen: list[Sentence] = []
    covered: set[str] = set()
    while len(chosen) < MAX_UNION:
        gains = [
            (len(held[i] - covered), i)
            for i, s in enumerate(context)
            # One document's sentences only: a CMRC answer joined a protein's name from one
            # article to a herb's effects from another ("AGG01……具有抗发炎、利尿和抗菌的功效").
            if s not in chosen and (not chosen or s.passage.chunk.doc_id == chosen[0].passage.chunk.doc_id)
        ]
        gain, i = max(gains, default=(0, -1))
        if gain < 2:
            break
        chosen.append(context[i])
        covered |= held[i]
    if len(chosen) < 2 or len(covered) / len(words) < MIN_UNION:
        return []
    text = "".join(s.text for s in chosen)
    chunks = "".join(s.passage.chunk.text for s in chosen)
    if not numbers(claim) <= numbers(text) | numbers(chunks) or not names_match(claim, chunks):
        return []
    if any(joins_apart(claim, s.text) for s in chosen):
        return []
    return sorted(chosen, key=lambda s: s.start)


class Verifier:
    """Verifies a draft sentence by sentence as it streams in, so only checked text is shown."""

    def __init__(
        self, context: list[Sentence], similarity: Similarity, question: str = "", *, step: bool = True
    ) -> None:
        self.context = context
        self.step = step
        self.similarity = similarity
        self.question = question
        self._total = bool(TOTAL.search(question))
        self._count = bool(COUNT.search(question))
        self._texts = [s.text for s in context]
        self._buffer = ""
        self.draft = ""
        self.citations: list[Citation] = []
        self._index: dict[tuple[str, int, int], int] = {}
        self.parts: list[str] = []
        self.dropped: list[str] = []
        self.recited = 0
        # The open sentence's verified head, already returned, and the sentences supporting it.
        self._head = ""
        self._head_sources: list[Sentence] = []
        self.cut = 0  # sentences ended at their verified head

    def feed(self, delta: str) -> str:
        """Add streamed text; return newly verified text: whole sentences, and the clauses of a
        Chinese sentence still being written once they are supported on their own."""
        self.draft += delta
        self._buffer += delta
        # A sentence is complete once text other than citation markers follows its end mark.
        cut = None
        for m in re.finditer(r"[。！？!?；;\n](?:\s*\[\d{1,2}\])*", self._buffer):
            if m.end() < len(self._buffer) and self._buffer[m.end() :].strip():
                cut = m.end()
        out = ""
        if cut is not None:
            done, self._buffer = self._buffer[:cut], self._buffer[cut:]
            out = self._check(done)
        return out + self._release_head()

    def finish(self) -> str:
        done, self._buffer = self._buffer, ""
        return self._check(done)

    def _release_head(self) -> str:
        """Show the open Chinese sentence as far as it is supported on its own, a clause or a few
        characters at a time: the first words then come ~1 s sooner than the sentence's end
        (20 tokens/s). Should the rest fail, the sentence ends at its verified head ("……")."""
        text = self._buffer.split("[")[0] if self._buffer.count("[") > self._buffer.count("]") else self._buffer
        if "\n" in text.strip():
            return ""
        clause = re.search(r".*[，,、]", text, re.S)
        head = _clean(text)
        if not self.step or len(head) < len(self._head) + HEAD_STEP:
            head = _clean(clause.group(0)) if clause else ""
        if len(head) < HEAD_MIN or len(head) <= len(self._head) or not head.startswith(self._head):
            return ""
        if not has_chinese(head) or re.search(r"[A-Za-z]{3,}", head):
            return ""  # English answers are checked by meaning, which needs the whole sentence
        sources = self._sources(head.rstrip("，,、"), [int(x) for x in MARKER.findall(text)], recite=False)
        if not sources:
            return ""
        new, self._head, self._head_sources = head[len(self._head) :], head, sources
        self.parts.append(new)
        return new

    def _check(self, text: str) -> str:
        out: list[str] = []
        for claim, nums in split_claims(text):
            head, self._head = self._head, ""
            if head:
                # The first claim is the sentence whose head was shown: the rest must hold too,
                # or the sentence ends where its verified head did.
                whole = claim.startswith(head)
                sources = self._sources(claim, nums) if whole else []
                if sources:
                    out.append(claim[len(head) :] + self._marks(sources))
                else:
                    self.dropped.append(claim[len(head) :] if whole else claim)
                    self.cut += 1
                    out.append("……" + self._marks(self._head_sources))
                continue
            sources = self._sources(claim, nums)
            if not sources:
                self.dropped.append(claim)
                continue
            sep = " " if claim[-1:].isascii() and self.parts + out else ""
            out.append(sep + claim + self._marks(sources))
        self.parts.extend(out)
        return "".join(out)

    def _marks(self, sources: list[Sentence]) -> str:
        return "".join(f"[{self._number(s)}]" for s in sources)

    def _sources(self, claim: str, nums: list[int], recite: bool = True) -> list[Sentence]:
        ctx = self.context
        if not has_chinese(claim) and not adds_to(claim, self.question):
            return []
        sims = self.similarity(claim, self._texts) if not has_chinese(claim) else [0.0] * len(ctx)
        cited = [n - 1 for n in dict.fromkeys(nums) if 1 <= n <= len(ctx)]
        good = [ctx[i] for i in cited if supports(claim, ctx[i], sims[i], total=self._total, count=self._count)]
        if good or not ctx:
            return good
        best = max(range(len(ctx)), key=lambda i: overlap(claim, self._texts[i]) + sims[i])
        if supports(claim, ctx[best], sims[best], total=self._total, count=self._count):
            self.recited += recite
            return [ctx[best]]
        return supported_by_several(claim, ctx) if has_chinese(claim) else []

    def add_quotes(self, sentences: list[Sentence], lead: str) -> str:
        """Quote `sentences` after the answer, verbatim (so checked), cited ones included."""
        if not sentences:
            return ""
        text = lead + "".join(f"{s.text}[{self._number(s)}]" for s in sentences)
        self.parts.append(text)
        return text

    def add_derived(self, text: str, source: Sentence) -> str:
        """A sentence the answerer composed from `source` (a count of its titles), cited to it."""
        text += f"[{self._number(source)}]"
        self.parts.append(text)
        return text

    def uncited(self, sentences: list[Sentence]) -> list[Sentence]:
        return [s for s in sentences if s.key not in self._index]

    def _number(self, s: Sentence) -> int:
        if s.key not in self._index:
            self._index[s.key] = len(self.citations) + 1
            c = s.passage.chunk
            self.citations.append(
                Citation(
                    self._index[s.key], c.id, c.doc_id, c.title, c.text, s.text, s.start, s.end, c.page_at(s.start)
                )
            )
        return self._index[s.key]

    def result(self) -> Verified:
        return Verified("".join(self.parts), self.citations, self.dropped, self.recited, is_refusal(self.draft))


def verify(draft: str, context: list[Sentence], similarity: Similarity, question: str = "") -> Verified:
    v = Verifier(context, similarity, question)
    v.feed(draft)
    v.finish()
    return v.result()
