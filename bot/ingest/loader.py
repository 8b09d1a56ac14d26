"""Load a folder of .txt/.md documents and clean them into the text that chunks point into.

Offsets of every chunk refer to `Document.text` (the cleaned text), so cleaning happens once,
here, and nothing downstream rewrites text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.errors import UserError
from bot.core.text import strip_invisible

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")

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

    @property
    def content_hash(self) -> str:
        payload = "\x00".join([self.id, self.title, self.text])
        return hashlib.sha256(payload.encode()).hexdigest()


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


def load_document(path: Path, doc_id: str | None = None) -> Document:
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text (byte {exc.start}); convert it with "
            f"`iconv -f GB18030 -t UTF-8` or remove it from the corpus"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    meta, body = split_front_matter(raw)
    text = clean_text(body)
    doc_id = doc_id or path.stem
    title = meta.get("title") or _guess_title(text) or doc_id
    return Document(
        id=doc_id,
        title=title,
        text=text,
        source=meta.get("source", ""),
        date=meta.get("date", ""),
        language=meta.get("language", "zh"),
        path=str(path),
        meta={k: v for k, v in meta.items() if k not in {"title", "source", "date", "language"}},
    )


def _guess_title(text: str) -> str:
    first = text.split("\n", 1)[0]
    return first if 0 < len(first) <= 40 and not first.endswith("。") else ""


def load_corpus(folder: Path) -> list[Document]:
    """Every .txt/.md file under `folder` (hidden files skipped), sorted by id."""
    if not folder.exists():
        raise UserError(f"corpus folder not found: {folder} (create it or pass --corpus DIR)")
    if not folder.is_dir():
        raise UserError(f"corpus path is not a folder: {folder}")
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.name.upper() != "README.MD"
    )
    if not paths:
        raise UserError(f"corpus folder {folder} has no .txt or .md documents")
    docs: dict[str, Document] = {}
    for path in paths:
        rel = path.relative_to(folder).with_suffix("")
        doc_id = rel.as_posix()
        if doc_id in docs:
            raise UserError(f"two documents share the id {doc_id!r}: {docs[doc_id].path} and {path}")
        doc = load_document(path, doc_id)
        if not doc.text:
            log.warning("%s: empty after cleaning; skipped", path)
            continue
        docs[doc_id] = doc
    if not docs:
        raise UserError(f"corpus folder {folder} has only empty documents")
    return [docs[k] for k in sorted(docs)]


def corpus_hash(docs: list[Document]) -> str:
    h = hashlib.sha256()
    for doc in docs:
        h.update(doc.content_hash.encode())
    return h.hexdigest()
