"""Load a folder of documents (text, PDF, Word, web pages) and clean them into the text that chunks point into.

Offsets of every chunk refer to `Document.text` (the cleaned text), so cleaning happens once,
here, and nothing downstream rewrites text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.errors import UserError
from bot.core.profile import FILE_NAME as PROFILE_FILE
from bot.core.text import strip_invisible
from bot.ingest.formats import BadDocument, Block, extract

log = logging.getLogger(__name__)

_SPACES = re.compile("[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]+")

# Web-scrape furniture: whole lines that are page chrome, not content. A captcha prompt left in
# the corpus reads like an instruction to the model, so it must never reach a chunk.
_BOILERPLATE = re.compile(
    r"^(?:请输入验证码.*|验证码[:：]?.*|看不清[,，]?换一张|点击(?:刷新|查看原文|阅读全文)|"
    r"分享到[:：]?.*|扫一扫.*|返回顶部|打印本页|关闭窗口|【?(?:字号|字体)[:：].*|"
    r"责任编辑[:：].*|编辑[:：].{0,10}|来源[:：].{0,20}|版权所有.*|上一篇[:：]?.*|下一篇[:：]?.*)$"
)
_MAX_BOILERPLATE_LINE = 40


@dataclass(frozen=True)
class Document:
    """One cleaned document. `id` is the file's stem (relative path for files in subfolders)."""

    id: str
    title: str
    text: str
    source: str = ""
    date: str = ""
    language: str = "zh"
    path: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    format: str = "text"
    encoding: str = ""
    # (page number, offset in `text` where it starts), PDF only: a citation names its page.
    pages: tuple[tuple[int, int], ...] = ()
    # (start, end) of the paragraphs the file marks as headings (Word, web pages): chunks open with them.
    headings: tuple[tuple[int, int], ...] = ()
    size: int = 0

    @property
    def content_hash(self) -> str:
        payload = "\x00".join([self.id, self.title, self.text])
        if self.pages or self.headings:  # structure changes the chunks' metadata and shape
            payload += f"\x00{self.pages}\x00{self.headings}"
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and the one line that says why."""

    path: str  # relative to the corpus folder
    doc_id: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.path}: {self.reason}"


class Corpus(list[Document]):
    """The documents that loaded, sorted by id, and the files that did not."""

    def __init__(self, docs: list[Document], skipped: list[Skipped]) -> None:
        super().__init__(docs)
        self.skipped = skipped


def clean_text(raw: str) -> str:
    """Normalise Unicode (NFC: keeps full-width Chinese punctuation), drop invisible and control
    characters, collapse spaces, drop blank lines and scrape boilerplate lines."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text)  # the same set the question cleaner strips
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if not line:
            continue
        if len(line) <= _MAX_BOILERPLATE_LINE and _BOILERPLATE.match(line):
            log.info("dropped boilerplate line: %r", line)
            continue
        lines.append(line)
    return "\n".join(lines)


def split_front_matter(raw: str) -> tuple[dict[str, str], str]:
    """Parse an optional `---` block of `key: value` lines at the top of a file."""
    body = raw.lstrip("\ufeff")
    if not body.startswith("---\n") and not body.startswith("---\r\n"):
        return {}, body
    lines = body.splitlines(keepends=True)
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            meta: dict[str, str] = {}
            for line in lines[1:i]:
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, "".join(lines[i + 1 :])
    return {}, body  # no closing fence: treat the whole file as text


def load_document(path: Path, doc_id: str | None = None, max_bytes: int | None = None) -> Document:
    """One file, any supported format. Raises `BadDocument` (one line: why, and what to do)."""
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise BadDocument(f"{size:,} bytes is over the limit of {max_bytes:,} (QINGSHAN_MAX_DOCUMENT_BYTES)")
        data = path.read_bytes()
    except OSError as exc:
        raise BadDocument(f"cannot be read ({exc.strerror})") from None
    got = extract(path, data)
    meta: dict[str, str] = {}
    if got.format == "text":
        meta, body = split_front_matter(got.blocks[0].text)
        got.blocks = [Block(body)]
    text, pages, heads = _assemble(got.blocks)
    if not text:
        raise BadDocument("no text left after cleaning")
    doc_id = doc_id or path.stem
    title = meta.get("title") or clean_text(got.title).replace("\n", " ") or _guess_title(text) or doc_id
    return Document(
        id=doc_id,
        title=title,
        text=text,
        source=meta.get("source", ""),
        date=meta.get("date", ""),
        language=meta.get("language", "zh"),
        path=str(path),
        meta={k: v for k, v in {**got.meta, **meta}.items() if k not in {"title", "source", "date", "language"}},
        format=got.format,
        encoding=got.encoding,
        pages=pages,
        headings=heads,
        size=size,
    )


def _assemble(blocks: list[Block]) -> tuple[str, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Each block cleaned, joined by newlines, with where each page and each heading landed."""
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    heads: list[tuple[int, int]] = []
    pos = 0
    for block in blocks:
        cleaned = clean_text(block.text)
        if not cleaned:
            continue
        if block.page is not None and (not pages or pages[-1][0] != block.page):
            pages.append((block.page, pos))
        if block.heading:
            heads.append((pos, pos + len(cleaned)))
        parts.append(cleaned)
        pos += len(cleaned) + 1
    return "\n".join(parts), tuple(pages), tuple(heads)


def _guess_title(text: str) -> str:
    first = text.split("\n", 1)[0]
    return first if 0 < len(first) <= 40 and not first.endswith("。") else ""


def doc_id_of(folder: Path, path: Path) -> str:
    return path.relative_to(folder).with_suffix("").as_posix()


def corpus_files(folder: Path) -> list[Path]:
    """Every file of the corpus folder but hidden ones, its README and its profile, sorted."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.name.upper() != "README.MD"
        and p.relative_to(folder).as_posix() != PROFILE_FILE
    )


def load_corpus(
    folder: Path, max_bytes: int | None = None, progress: Callable[[int, int], None] | None = None
) -> Corpus:
    """Every document under `folder`, sorted by id. A file that cannot be read is skipped with
    its reason (`Corpus.skipped`), so one bad file never stops the rest."""
    if not folder.exists():
        raise UserError(f"corpus folder not found: {folder} (create it or pass --corpus DIR)")
    if not folder.is_dir():
        raise UserError(f"corpus path is not a folder: {folder}")
    docs: dict[str, Document] = {}
    skipped: list[Skipped] = []
    files = corpus_files(folder)
    for n, path in enumerate(files, 1):
        if progress is not None:
            progress(n, len(files))
        rel, doc_id = path.relative_to(folder).as_posix(), doc_id_of(folder, path)
        try:
            if doc_id in docs:
                raise BadDocument(f"same id {doc_id!r} as {Path(docs[doc_id].path).name}; rename one of them")
            docs[doc_id] = load_document(path, doc_id, max_bytes)
        except BadDocument as exc:
            log.info("%s: %s; skipped", path, exc)  # the index report names it
            skipped.append(Skipped(rel, doc_id, str(exc)))
    if not docs:
        reasons = "; ".join(s.line() for s in skipped[:3])
        raise UserError(
            f"corpus folder {folder} has no document that can be indexed" + (f" ({reasons})" if reasons else "")
        )
    return Corpus([docs[k] for k in sorted(docs)], skipped)


def corpus_hash(docs: list[Document], salt: str = "") -> str:
    """What an index was built from; `salt` names how the text was cut, so an index cut by an
    older chunker is re-chunked on the next build (unchanged chunks keep their vectors)."""
    h = hashlib.sha256(salt.encode())
    for doc in docs:
        h.update(doc.content_hash.encode())
    for item in getattr(docs, "skipped", []):  # a new bad file changes what the report must say
        h.update(item.line().encode())
    return h.hexdigest()
