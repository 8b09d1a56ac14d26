"""Where a sentence sits in its document: its paragraph, its neighbours, the paragraphs after it.

A list is often spread over the text's structure rather than said in one sentence, so the
similarity ranking alone misses items:
- a sentence announces a count and the next paragraphs name the items
  ("该区正重点建设四个创新平台。" then four paragraphs, each led by a platform's name);
- a paragraph opens with its topic ("推进智能制造领域技术创新。…") and its other sentences are
  the items (引进……；引进……；落地……).
The extractive picker asks this module for those items when a question asks for a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answering.sentences import Sentence, overlap, passage_sentences
from bot.core.text import small_number
from bot.ingest.chunking import HEADING_BREAKERS, HEADING_MAX, Chunk
from bot.retrieval.retriever import Passage

# "四个创新平台", "3项", "两大": a count of things the next paragraphs may name.
_ANNOUNCE = re.compile(r"(?:[两三四五六七八九十]|\d{1,2})\s*(?:个|大|项|家|方面)")
# Most items one expansion adds: beyond this the answer stops being an answer.
MAX_ITEMS = 6
# Share of a topic lead's words the question must use before its paragraph counts as the list
# ("推进智能制造领域技术创新。" for "在智能制造领域……引进了哪些"; not "增强企业技术创新优势。" for
# a question about one company).
TOPIC_OVERLAP = 0.3


# A question asking how many documents, agreements… ("签署了几份协议？"); its classifier.
_UNITS = "份|部|本|篇|项|个"
COUNT = re.compile(rf"(?:几|多少)\s*({_UNITS})")
_STATED_COUNT = re.compile(rf"(?:\d+|[一二两三四五六七八九十]+)\s*(?:{_UNITS})")
_TITLE = re.compile(r"《[^《》]{1,80}》")
# Two or more titles in a row ("《A》《B》和《C》"): a list whose length the text leaves unsaid.
_TITLE_RUN = re.compile(r"《[^《》]{1,80}》(?:\s*[、,，和及与]?\s*《[^《》]{1,80}》)+")


def counted(text: str) -> set[str]:
    """How many titles each run of titles in `text` lists: numbers an answer may state when a
    count is asked, as the text states them only by listing."""
    return {str(len(_TITLE.findall(m.group(0)))) for m in _TITLE_RUN.finditer(text)}


def count_of_titles(question: str, sentences: list[Sentence], said: str) -> tuple[str, Sentence] | None:
    """For "签署了几份协议？" answered without a number: "共3份：《A》《B》《C》。" and the sentence
    listing them (the text names three agreements and never says three)."""
    m = COUNT.search(question)
    if not m or _STATED_COUNT.search(said):
        return None
    for s in sentences:
        run = _TITLE_RUN.search(s.text)
        if run:
            titles = _TITLE.findall(run.group(0))
            return f"共{len(titles)}{m.group(1)}：{''.join(titles)}。", s
    return None


@dataclass(frozen=True)
class _Placed:
    sentence: Sentence
    paragraph: int


class DocumentMap:
    """Sentences of whole documents in order, built lazily per document from the indexed chunks."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self._chunks = chunks
        self._by_doc: dict[str, list[Chunk]] | None = None
        self._placed: dict[str, list[_Placed]] = {}

    def _doc(self, doc_id: str) -> list[_Placed]:
        if doc_id not in self._placed:
            if self._by_doc is None:
                self._by_doc = {}
                for c in self._chunks:
                    self._by_doc.setdefault(c.doc_id, []).append(c)
            chunks = sorted(self._by_doc.get(doc_id, []), key=lambda c: c.start)
            # A sentence outside the retrieved passages is cited from its own chunk; its rank
            # (past any real one) only matters to the picker's prior, which never sees it.
            sents = sorted(passage_sentences([Passage(c, 0.0, len(chunks) + 1) for c in chunks]), key=lambda s: s.start)
            covered = {i: ch for c in chunks for i, ch in enumerate(c.text, c.start)}
            placed, para = [], 0
            for prev, s in zip([None, *sents], sents, strict=False):
                # Chunks never span paragraphs, so a gap no chunk covers, or a line break, is one.
                if prev is not None and any(covered.get(i, "\n") == "\n" for i in range(prev.end, s.start)):
                    para += 1
                placed.append(_Placed(s, para))
            self._placed[doc_id] = placed
        return self._placed[doc_id]

    def _locate(self, s: Sentence) -> tuple[list[_Placed], int] | None:
        placed = self._doc(s.passage.chunk.doc_id)
        for i, p in enumerate(placed):
            if p.sentence.start <= s.start < p.sentence.end:
                return placed, i
        return None

    def list_items(self, s: Sentence, question: str) -> list[Sentence]:
        """The items a sentence's paragraph introduces for this question: the named paragraphs
        after a count ("……建设四个创新平台。"), or the rest of a paragraph whose topic lead
        the question names. Empty when it introduces none."""
        found = self._locate(s)
        if found is None:
            return []
        placed, i = found
        here = placed[i].paragraph
        same = [p.sentence for p in placed if p.paragraph == here]
        count = _count(same[-1].text)
        if count:
            titles = []
            for para in range(here + 1, here + 1 + count):
                lead = next((p.sentence for p in placed if p.paragraph == para), None)
                title = _title(lead) if lead else None
                if title is None:
                    break  # the next paragraphs are not the named items
                titles.append(title)
            else:
                return [same[-1], *titles] if same[-1].start != s.start else titles
        title = _title(same[0])
        if same[0].start == s.start and title and len(same) > 1 and overlap(title.text, question) >= TOPIC_OVERLAP:
            return same[1 : 1 + MAX_ITEMS]
        return []


def _count(text: str) -> int:
    m = _ANNOUNCE.search(text.rstrip("。；;"))
    if not m or not text.rstrip().endswith(("。", "；", ";")) or m.end() < len(text.rstrip("。；; ")) - 8:
        return 0  # only a count near the end announces what follows ("……建设四个创新平台。")
    word = re.match(r"\d{1,2}|[两三四五六七八九十]", m.group())
    n = (small_number(word.group()) or 0) if word else 0
    return n if 2 <= n <= MAX_ITEMS else 0


def _title(s: Sentence) -> Sentence | None:
    """The lead-in title of a sentence ("某某园区科创中心。该中心由……" -> its first part)."""
    end = s.text.find("。")
    head = s.text[: end + 1] if end > 0 else ""
    if not head or len(head) > HEADING_MAX or HEADING_BREAKERS.search(head) or end + 1 >= len(s.text):
        return None
    return Sentence(head, s.start, s.start + len(head), s.passage)
