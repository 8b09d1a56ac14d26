"""Chinese-aware chunking: paragraphs first, then sentence ends, with offsets into the document.

Rules (each one a failure seen in generic splitters):
- a chunk never starts with a sentence-ending mark: boundaries fall *after* 。！？； and their
  closing quotes;
- a bare heading (a short line, or a short lead sentence such as `某某装备工业技术创新中心。`)
  is glued to the text after it, so it never ends a chunk or stands alone;
- `chunk.text == document.text[chunk.start:chunk.end]` always holds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.ingest.loader import Document

# Raised whenever a change here cuts the same text differently: indexes built before are
# re-chunked on their next build instead of serving sentences cut the old way.
CHUNKING_VERSION = 2
# A sentence ends at one of these marks plus any closing quotes/brackets after it. A full stop
# after an initial or a title ("John H. McArthur", "Dr. Li") ends no sentence: split there, a
# name was quoted cut in half.
_NOT_AN_END = r"(?<!(?<![A-Za-z])[A-Z])(?<!(?<![A-Za-z])(?:Mr|Ms|Dr|St|Jr|Sr|No|vs))(?<!(?<![A-Za-z])Mrs)"
_SENT_END = re.compile(rf"(?:[。！？；!?;]|{_NOT_AN_END}\.(?=\s|$)|…{{1,2}})[”’\"』」）)】》]*")
_SOFT_SEPARATORS = ["，", ",", "、", "：", ":", " ", ""]
HEADING_MAX = 24
HEADING_BREAKERS = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    seq: int
    # PDF: (page, offset in the document where it starts) for the page the chunk opens on and
    # each page that starts inside it, so any offset in the chunk maps to its page.
    pages: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page that holds document offset `offset` (None when the document has no pages)."""
        page = None
        for number, start in self.pages:
            if start <= offset:
                page = number
        return page if page is not None else (self.pages[0][0] if self.pages else None)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    sticky: bool = False  # a heading: must share a chunk with the span after it


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans of `text[start:end]` (one paragraph); the final piece may lack a mark."""
    spans = []
    pos = start
    for m in _SENT_END.finditer(text, start, end):
        if m.end() > pos:
            spans.append((pos, m.end()))
            pos = m.end()
    if pos < end:
        if text[pos:end].strip():
            spans.append((pos, end))
        elif spans:  # trailing spaces belong to the last sentence
            spans[-1] = (spans[-1][0], end)
    return spans


def _is_heading(piece: str) -> bool:
    return len(piece) <= HEADING_MAX and not HEADING_BREAKERS.search(piece)


def headings(chunks: Iterable[Chunk], shortest: int = 2) -> Iterator[str]:
    """What a corpus is about, read from the corpus itself, each once: the documents' titles
    first, then heading-like lead sentences ("某某创新中心。"), in corpus order."""
    chunks = list(chunks)
    titles = [c.title for c in chunks if c.seq == 0 and c.title != c.doc_id]
    leads = [
        c.text[s:e].strip().rstrip("。！？；!?;.")
        for c in chunks
        for s, e in sentence_spans(c.text, 0, len(c.text))[:1]
    ]
    seen: set[str] = set()
    for piece in [*titles, *leads]:
        if len(piece) >= shortest and _is_heading(piece) and piece not in seen:
            seen.add(piece)
            yield piece


def _paragraph_units(text: str, start: int, end: int, chunk_size: int, heading: bool = False) -> list[_Span]:
    if heading and end - start <= chunk_size:
        # The file says this paragraph is a heading (Word, web page): it opens the next chunk,
        # however long it is and whatever punctuation it has.
        return [_Span(start, end, sticky=True)]
    sents = sentence_spans(text, start, end)
    units: list[_Span] = []
    for i, (s, e) in enumerate(sents):
        piece = text[s:e]
        # A whole short paragraph without a comma is a section heading; a short comma-free
        # first sentence of a longer paragraph is a lead-in title ("XX中心。该中心……").
        sticky = _is_heading(piece) and (len(sents) == 1 or (i == 0 and len(sents) > 1))
        if e - s > chunk_size:
            units.extend(_split_long(text, s, e, chunk_size))
        else:
            units.append(_Span(s, e, sticky))
    return units


def _split_long(text: str, start: int, end: int, chunk_size: int) -> list[_Span]:
    """A single sentence longer than a chunk: split at commas and enumeration marks."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=0,
        separators=_SOFT_SEPARATORS,
        keep_separator="end",
        strip_whitespace=False,
    )
    spans = []
    pos = start
    for piece in splitter.split_text(text[start:end]):
        found = text.find(piece, pos, end)
        if found < 0:  # pragma: no cover - the splitter only returns substrings
            raise AssertionError("splitter returned text not in the sentence")
        spans.append(_Span(found, found + len(piece)))
        pos = found + len(piece)
    if spans and spans[-1].end < end:
        spans[-1] = _Span(spans[-1].start, end)
    return spans


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def chunk_document(doc: Document, chunk_size: int = 220, chunk_overlap: int = 60) -> list[Chunk]:
    """Split one document into chunks of about `chunk_size` characters.

    Paragraph units are grouped up to `chunk_size`; a paragraph never shares a chunk with
    another one unless it is a heading. When a paragraph needs several chunks, the next chunk
    repeats the previous chunk's trailing sentences that fit in `chunk_overlap`.
    """
    heads = set(doc.headings)
    units_by_para = [_paragraph_units(doc.text, s, e, chunk_size, (s, e) in heads) for s, e in _paragraphs(doc.text)]
    groups = _group(_glue_headings(units_by_para), chunk_size, chunk_overlap)
    return _chunks(doc, groups)


def _glue_headings(units_by_para: list[list[_Span]]) -> list[tuple[int, _Span]]:
    """(paragraph, unit) pairs in which each heading is glued to the unit after it, across the
    paragraph break (section headings are whole paragraphs)."""
    glued: list[tuple[int, _Span]] = []
    carry: _Span | None = None
    for para, unit in ((i, u) for i, us in enumerate(units_by_para) for u in us):
        if carry is not None:
            unit = _Span(carry.start, unit.end, unit.sticky)
            carry = None
        if unit.sticky:
            carry = unit
        else:
            glued.append((para, unit))
    if carry is not None:
        glued.append((len(units_by_para), _Span(carry.start, carry.end)))
    return glued


def _group(glued: list[tuple[int, _Span]], chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """Units grouped into chunk spans: one paragraph's units up to `chunk_size`, the next chunk
    of the same paragraph opening with the trailing units that fit in `chunk_overlap`."""
    groups: list[tuple[int, int]] = []
    current: list[_Span] = []
    current_para = -1
    for para, unit in glued:
        size_if_added = unit.end - current[0].start if current else unit.end - unit.start
        if current and (para != current_para or size_if_added > chunk_size):
            groups.append((current[0].start, current[-1].end))
            overlap: list[_Span] = []
            if para == current_para and chunk_overlap > 0:
                for prev in reversed(current):
                    if unit.end - prev.start > chunk_size:
                        break
                    if sum(p.end - p.start for p in overlap) + prev.end - prev.start > chunk_overlap:
                        break
                    overlap.insert(0, prev)
            current = overlap
        current.append(unit)
        current_para = para
    if current:
        groups.append((current[0].start, current[-1].end))
    return groups


def _chunks(doc: Document, groups: list[tuple[int, int]]) -> list[Chunk]:
    """Chunks of the spans, trimmed of edge whitespace with exact offsets, ids from content."""
    text = doc.text
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for seq, (s, e) in enumerate(groups):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        piece = text[s:e]
        digest = hashlib.sha256(f"{doc.id}\x00{piece}".encode()).hexdigest()[:24]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        chunk_id = digest if n == 0 else f"{digest}-{n}"
        chunks.append(Chunk(chunk_id, doc.id, doc.title, piece, s, e, seq, _pages_in(doc.pages, s, e)))
    return chunks


def _pages_in(pages: tuple[tuple[int, int], ...], start: int, end: int) -> tuple[tuple[int, int], ...]:
    """The page `start` falls on and every page that begins before `end`."""
    opening = [p for p in pages if p[1] <= start][-1:]
    return tuple(opening + [p for p in pages if start < p[1] < end])


def chunk_corpus(docs: list[Document], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, chunk_size, chunk_overlap)]
