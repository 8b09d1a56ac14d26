"""Check an LLM draft against the sentences it was given, instead of trusting it.

Each answer sentence must be supported by the sentence it cites: enough of its characters
(bigrams) or meaning (embedding similarity, for English answers) and every number it states.
An unsupported sentence is re-cited to the context sentence that does support it, or dropped;
citation numbers that point nowhere are removed. What survives is renumbered 1..n.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.answer_types import Citation
from bot.keyword import has_chinese
from bot.sentences import Sentence, numbers, overlap, strip_markers

_SPLIT = re.compile(r"(?<=[。！？!?；;])\s*|\n+|(?<=\.)\s+(?=[A-Z\[])")
_MARKERS = re.compile(r"\[(\d{1,2})\]")
_LEADING_MARKERS = re.compile(r"^\s*((?:\[\d{1,2}\]\s*)+)")
_REFUSAL = re.compile(
    r"文中未提及|文中没有提到|文中并未提及|资料中没有|未提及|does not mention|not mentioned|no information",
    re.I,
)

MIN_OVERLAP = 0.5
MIN_SIMILARITY = 0.80

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
            m = _LEADING_MARKERS.match(piece)
            if m and claims and not first:
                text, nums = claims[-1]
                claims[-1] = (text, nums + [int(x) for x in _MARKERS.findall(m.group(1))])
                piece = piece[m.end() :]
            first = False
            if not strip_markers(piece).strip():
                continue
            claims.append((strip_markers(piece).strip(), [int(x) for x in _MARKERS.findall(piece)]))
    return claims


def is_refusal(draft: str) -> bool:
    return bool(_REFUSAL.search(draft))


# Names end in these; the two characters before one must match the source ("北奔集团" cited to a
# sentence about 北重集团 shares most bigrams, yet names the wrong company).
_NAME_END = re.compile(r"(?<=[\u4e00-\u9fff]{2})(集团|公司|研究院|研究所|中心|大学|科技园|实验室|重汽|新材料|科技)")
_PRONOUN = re.compile(r"[这该此个其本那]")


def names_match(claim: str, source: str) -> bool:
    for m in _NAME_END.finditer(claim):
        name = claim[m.start() - 2 : m.end()]
        if not _PRONOUN.search(name[:2]) and name not in source:
            return False
    return True


def supports(claim: str, source: Sentence, similarity: float | None) -> bool:
    if not numbers(claim) <= numbers(source.text) | numbers(source.passage.chunk.text):
        return False
    if has_chinese(claim) and not names_match(claim, source.passage.chunk.text):
        return False
    if has_chinese(claim):
        return overlap(claim, source.text) >= MIN_OVERLAP
    return similarity is not None and similarity >= MIN_SIMILARITY


class Verifier:
    """Verifies a draft sentence by sentence as it streams in, so only checked text is shown."""

    def __init__(self, context: list[Sentence], similarity: Similarity) -> None:
        self.context = context
        self.similarity = similarity
        self._texts = [s.text for s in context]
        self._buffer = ""
        self.draft = ""
        self.citations: list[Citation] = []
        self._index: dict[tuple[str, int], int] = {}
        self.parts: list[str] = []
        self.dropped: list[str] = []
        self.recited = 0

    def feed(self, delta: str) -> str:
        """Add streamed text; return the verified text of every sentence completed so far."""
        self.draft += delta
        self._buffer += delta
        # A sentence is complete once text other than citation markers follows its end mark.
        cut = None
        for m in re.finditer(r"[。！？!?；;\n](?:\s*\[\d{1,2}\])*", self._buffer):
            if m.end() < len(self._buffer) and self._buffer[m.end() :].strip():
                cut = m.end()
        if cut is None:
            return ""
        done, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return self._check(done)

    def finish(self) -> str:
        done, self._buffer = self._buffer, ""
        return self._check(done)

    def _check(self, text: str) -> str:
        out: list[str] = []
        for claim, nums in split_claims(text):
            sources = self._sources(claim, nums)
            if not sources:
                self.dropped.append(claim)
                continue
            marks = "".join(f"[{self._number(s)}]" for s in sources)
            sep = " " if claim[-1:].isascii() and self.parts + out else ""
            out.append(sep + claim + marks)
        self.parts.extend(out)
        return "".join(out)

    def _sources(self, claim: str, nums: list[int]) -> list[Sentence]:
        ctx = self.context
        sims = self.similarity(claim, self._texts) if not has_chinese(claim) else [0.0] * len(ctx)
        cited = [n - 1 for n in dict.fromkeys(nums) if 1 <= n <= len(ctx)]
        good = [ctx[i] for i in cited if supports(claim, ctx[i], sims[i])]
        if good or not ctx:
            return good
        best = max(range(len(ctx)), key=lambda i: overlap(claim, self._texts[i]) + sims[i])
        if supports(claim, ctx[best], sims[best]):
            self.recited += 1
            return [ctx[best]]
        return []

    def _number(self, s: Sentence) -> int:
        if s.key not in self._index:
            self._index[s.key] = len(self.citations) + 1
            c = s.passage.chunk
            self.citations.append(Citation(self._index[s.key], c.id, c.doc_id, c.title, c.text, s.text, s.start, s.end))
        return self._index[s.key]

    def result(self) -> Verified:
        return Verified("".join(self.parts), self.citations, self.dropped, self.recited, is_refusal(self.draft))


def verify(draft: str, context: list[Sentence], similarity: Similarity) -> Verified:
    v = Verifier(context, similarity)
    v.feed(draft)
    v.finish()
    return v.result()
