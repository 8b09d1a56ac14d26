"""Read a file of any supported format into blocks of raw text: paragraphs and headings, each
with its PDF page. The loader cleans the blocks and joins them, so offsets still point into one
cleaned text. Parsing is left to well-kept libraries (docs/documents.md says which and why):
pypdf for PDF, python-docx for Word, trafilatura for a web page's main text, charset-normalizer
to tell GB18030 from Big5 when a text file is not UTF-8.

A file that cannot be read raises `BadDocument` with one line that says why and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.errors import UserError

TEXT_SUFFIXES = (".txt", ".md")
FORMATS = {".txt": "text", ".md": "text", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
SUFFIXES = tuple(FORMATS)

# A wrapped line of a PDF page reaches near the right margin; one this much shorter than the
# page's longest line ended its paragraph (a title, a paragraph's last line).
_FULL_LINE = 0.8
_SENTENCE_END = tuple("。！？；：!?;:")
# pypdf infers spaces from gaps between glyph runs; where a digit or a Latin word comes from a
# fallback font, that puts a space on both sides ("第 1 部分", "百分之 4 。") that the author never
# typed and a question never has. In PDFs, spaces between a Chinese character and a digit go.
_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(f"(?<=[{_CJK}]) +(?=[0-9])|(?<=[0-9]) +(?=[{_CJK}])")


_LEGACY = ("gb18030", "big5", "utf_16", "utf_32", "cp1252")
# A Word file is a zip; one whose parts unpack past this is refused before any is read (a
# "zip bomb": a few hundred kB that unpack to gigabytes). A real report's text and pictures are
# far under it. zipfile stops reading a part at its declared size, so the declared sizes bound
# what parsing can unpack.
MAX_UNPACKED_BYTES = 256 * 2**20


class BadDocument(UserError):
    """A file that cannot be indexed; its message is the one line the index report shows."""


@dataclass(frozen=True)
class Block:
    text: str
    heading: bool = False
    page: int | None = None  # 1-based, PDF only


@dataclass
class Extracted:
    format: str
    blocks: list[Block]
    title: str = ""
    encoding: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def extract(path: Path, data: bytes) -> Extracted:
    """The blocks of `data`, read as the format its suffix names."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(SUFFIXES)
        raise BadDocument(f"unknown format {path.suffix or '(no suffix)'!r}; the formats read are {known}")
    if not data.strip():
        raise BadDocument("empty file")
    reader = {"text": _text, "pdf": _pdf, "docx": _docx, "html": _html}[kind]
    try:
        return reader(data)
    except BadDocument:
        raise
    except Exception as exc:  # a parser's own error on a malformed file: one line, never a traceback
        raise BadDocument(f"this {kind} file is damaged and cannot be read ({exc.__class__.__name__})") from None


# -- text -------------------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 (with or without BOM) first, as it can be told for certain; then
    charset-normalizer among GB18030 (a superset of GBK and GB2312), Big5, UTF-16/32 and cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            at = exc.start + 3
            raise BadDocument(f"starts as UTF-8 (a BOM) but byte {at} is not UTF-8; save it as UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # Only the encodings Chinese text comes in (and Windows' Western one): left free, the
    # detector calls a short GB18030 text Korean (cp949) as often as not.
    best = from_bytes(data, cp_isolation=list(_LEGACY)).best()
    if best is None:
        raise BadDocument("not text in any known encoding (UTF-8, GB18030, Big5, UTF-16); is it a binary file?")
    encoding = "gb18030" if best.encoding in {"gbk", "gb2312", "gb18030"} else best.encoding
    return str(best), encoding.replace("_", "-")


def _text(data: bytes) -> Extracted:
    text, encoding = decode_text(data)
    return Extracted("text", [Block(text)], encoding=encoding)


# -- PDF --------------------------------------------------------------------------------------
def _pdf(data: bytes) -> Extracted:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty user password (only copying or printing is
        # restricted): they open for anyone, so they are read; one that asks for a password is not.
        if reader.is_encrypted and not _opens_without_password(reader):
            raise BadDocument("this PDF is encrypted; save an unprotected copy and add that")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: Any = reader.metadata or {}
        title = str(info.get("/Title") or "")
    except BadDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise BadDocument(f"this PDF is damaged and cannot be read ({exc.__class__.__name__})") from None
    if not any(p.strip() for p in pages):
        raise BadDocument("this PDF has no text layer (a scan?); OCR it first")
    blocks = [Block(para, page=n) for n, text in enumerate(pages, 1) for para in pdf_paragraphs(text)]
    return Extracted("pdf", blocks, title=title.strip(), meta={"pages": str(len(pages))})


def _opens_without_password(reader: Any) -> bool:
    from pypdf.errors import DependencyError

    try:
        return bool(reader.decrypt(""))
    except (DependencyError, NotImplementedError):  # AES without the `cryptography` package
        return False


def pdf_paragraphs(page_text: str) -> list[str]:
    """A page's lines joined back into paragraphs: a PDF breaks lines where the page's margin
    was, mid-sentence. A line is joined to the next when it runs near the margin and ends
    without a sentence mark (Chinese joins with nothing, other text with a space)."""
    lines = [_CJK_GAP.sub("", line.strip()) for line in page_text.splitlines()]
    widest = max((len(line) for line in lines), default=0)
    paras: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paras.append(current)
            current = ""
            continue
        if current:
            sep = "" if _is_cjk(current[-1]) or _is_cjk(line[0]) else " "
            current = current + sep + line
        else:
            current = line
        if len(line) < _FULL_LINE * widest or line.endswith(_SENTENCE_END):
            paras.append(current)
            current = ""
    if current:
        paras.append(current)
    return paras


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" or "\uf900" <= ch <= "\ufaff"


# -- Word -------------------------------------------------------------------------------------
def _docx(data: bytes) -> Extracted:
    import io
    import zipfile

    import docx
    from docx.table import Table
    from lxml import etree

    try:
        _check_unpacked_size(data)
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        raise BadDocument(f"this Word file is damaged or not a .docx ({exc.__class__.__name__})") from None
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [[cell.text for cell in row.cells] for row in item.rows]
            blocks.extend(Block(line) for line in table_sentences(rows))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        # Word stores built-in styles by their English names whatever the UI language; WPS and
        # hand-made templates may name their own "标题 1".
        is_heading = style.startswith(("Heading", "标题")) or style == "Title"
        blocks.append(Block(item.text, heading=is_heading))
    title = document.core_properties.title or next((b.text for b in blocks if b.heading and b.text.strip()), "")
    return Extracted("docx", blocks, title=title.strip())


def _check_unpacked_size(data: bytes) -> None:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadDocument(
            f"this Word file unpacks to {unpacked:,} bytes, over the limit of {MAX_UNPACKED_BYTES:,}; is it a zip bomb?"
        )


def table_sentences(rows: Iterable[list[str]]) -> Iterator[str]:
    """A table as lines a sentence can cite: with a header row, each row reads
    "年份：2024年；投资：四千万元。"; without one, its cells joined by "；"."""
    cleaned = [[" ".join(cell.split()) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return
    header = cleaned[0]
    has_header = len(cleaned) > 1 and all(header) and len(set(header)) == len(header)
    for row in cleaned[1:] if has_header else cleaned:
        cells = _dedupe_merged(row)
        if has_header and len(row) == len(header):
            pairs = [f"{h}：{v}" for h, v in zip(header, row, strict=True) if v]
            yield "；".join(pairs) + "。"
        else:
            yield "；".join(c for c in cells if c) + "。"


def _dedupe_merged(row: list[str]) -> list[str]:
    # A merged cell repeats its text in every column it spans.
    out: list[str] = []
    for cell in row:
        if not out or cell != out[-1]:
            out.append(cell)
    return out


# -- HTML -------------------------------------------------------------------------------------
def _html(data: bytes) -> Extracted:
    import trafilatura
    from lxml import etree

    markup, encoding = _html_markup(data)
    xml = trafilatura.extract(
        markup, output_format="xml", include_tables=True, include_comments=False, with_metadata=True
    )
    if not xml:
        raise BadDocument("no main text found in this web page (only navigation or scripts?)")
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    blocks = [b for b in _xml_blocks(main if main is not None else root) if b.text.strip()]
    if not blocks:
        raise BadDocument("no main text found in this web page (only navigation or scripts?)")
    return Extracted("html", blocks, title=str(root.get("title") or "").strip(), encoding=encoding)


def _html_markup(data: bytes) -> tuple[str, str]:
    """The page's text: its declared or detected encoding (a GBK page is common), UTF-8 first."""
    declared = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", data[:4096], re.I)
    if declared:
        name = declared.group(1).decode("ascii").lower()
        name = "gb18030" if name in {"gbk", "gb2312"} else name
        try:
            return data.decode(name), name
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def _xml_blocks(node: Any) -> Iterator[Block]:
    for child in node:
        tag = child.tag
        if tag == "head":
            yield Block("".join(child.itertext()), heading=True)
        elif tag == "table":
            rows = [["".join(c.itertext()) for c in row.iter("cell")] for row in child.iter("row")]
            yield from (Block(line) for line in table_sentences(rows))
        elif tag == "list":
            yield from (Block("".join(item.itertext())) for item in child.iter("item"))
        elif tag in {"p", "quote", "code"}:
            yield Block("".join(child.itertext()))
        else:
            yield from _xml_blocks(child)
