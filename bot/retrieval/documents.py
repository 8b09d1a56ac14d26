"""Document management: add, replace and remove files of the corpus folder, and the catalog of
what is indexed. The corpus folder stays the one source of truth, so `index`, `doc-add` and
the admin page all end in the same incremental build.

A file's name and bytes come from outside (an upload, a command line): the name is reduced to a
plain file name inside the corpus folder, and the bytes are read only by the format libraries,
never by a shell. A file is checked (it must load) before it enters the corpus, so a bad upload
is refused with its reason and never reaches the index.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.settings import Settings
from bot.ingest.formats import BadDocument
from bot.ingest.loader import corpus_files, doc_id_of, load_document

# Letters (any script), digits, and a few marks a file name commonly has; anything else
# (slashes, quotes, shell metacharacters, control characters) becomes "_".
_UNSAFE = re.compile(r"[^\w\-.()（）【】 ]+")
_MAX_NAME = 120
_MAX_NAME_BYTES = 200  # under every common file system's 255, with room for a "-2"
STAGING = ".incoming"  # hidden: the loader never reads it
_PLACING = threading.Lock()  # the check "is this id taken?" and the move into the corpus, as one step


@dataclass(frozen=True)
class Added:
    name: str
    doc_id: str
    replaced: bool = False
    error: str = ""

    def line(self) -> str:
        if self.error:
            return f"refused {self.name}: {self.error}"
        return f"{'replaced' if self.replaced else 'added'} {self.name} (id {self.doc_id})"


def safe_name(raw: str) -> str:
    """A plain file name from whatever a browser or a user sent: no folders, no hidden files, no
    characters a shell or a file system treats specially."""
    base = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:_MAX_NAME]
    suffix = _UNSAFE.sub("", suffix).lower()[:16]
    # File systems count bytes (ext4: 255), and a Chinese character is 3 of them in UTF-8.
    while len(stem.encode()) > _MAX_NAME_BYTES - len(suffix) - 1:
        stem = stem[:-1]
    stem = stem.rstrip(" ._")
    if not stem:
        raise UserError(f"file name {raw!r} has no usable characters; rename the file")
    return f"{stem}.{suffix}" if suffix else stem


def add_files(
    settings: Settings, files: list[tuple[str, bytes]], *, replace: bool = False, target: str | None = None
) -> list[Added]:
    """Put each (name, bytes) into the corpus folder if it loads; one result line per file. A
    name already in the corpus is refused unless `replace`. With `target` (a document id), the
    one file replaces that document where it lies, a subfolder included, whatever its name."""
    check_upload_count(settings, len(files))
    corpus = settings.corpus_dir
    corpus.mkdir(parents=True, exist_ok=True)
    staging = corpus / STAGING
    staging.mkdir(exist_ok=True)
    if target is not None:
        existing = files_of(settings, target)
        if not existing or len(files) != 1:
            raise UserError(f"replacing {target!r} takes one file and a document id that `doc-list` shows")
        [(raw_name, data)] = files
        return [_add_one(settings, staging, raw_name, data, True, existing[0])]
    return [_add_one(settings, staging, raw_name, data, replace) for raw_name, data in files]


def check_upload_count(settings: Settings, count: int) -> None:
    if count > settings.max_upload_files:
        raise UserError(f"{count} files at once; the limit is {settings.max_upload_files} (QINGSHAN_MAX_UPLOAD_FILES)")


def over_limit(settings: Settings, size: int) -> str:
    """Why a file of `size` bytes is refused, or "" when it is within the limit."""
    if size <= settings.max_document_bytes:
        return ""
    return f"{size:,} bytes is over the limit of {settings.max_document_bytes:,} (QINGSHAN_MAX_DOCUMENT_BYTES)"


def _add_one(
    settings: Settings, staging: Path, raw_name: str, data: bytes, replace: bool, place: Path | None = None
) -> Added:
    """`place`: the file of the document this one replaces (its folder and name are kept)."""
    try:
        name = safe_name(raw_name)
    except UserError as exc:
        return Added(raw_name, "", error=str(exc))
    corpus = settings.corpus_dir
    if place is not None:
        name = place.stem + Path(name).suffix.lower()
    target = (place.parent if place is not None else corpus) / name
    doc_id = doc_id_of(corpus, target)
    allowed = settings.upload_suffixes()
    if target.suffix.lower() not in allowed:
        kinds = ", ".join(sorted(allowed))
        return Added(name, doc_id, error=f"{target.suffix or 'no suffix'} files are not accepted; accepted: {kinds}")
    if target.name.upper() == "README.MD":  # the loader skips it (the corpus folder's own notes)
        return Added(name, doc_id, error="a file named README.md is never indexed; rename it")
    if too_big := over_limit(settings, len(data)):
        return Added(name, doc_id, error=too_big)
    others = [p for p in files_of(settings, doc_id) if p != target]
    exists = target.exists() or bool(others)
    if exists and not replace:
        return Added(name, doc_id, error=f"a document with id {doc_id!r} is already in the corpus; replace it instead")
    fd, tmp = tempfile.mkstemp(dir=staging, suffix=target.suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        load_document(Path(tmp), doc_id, settings.max_document_bytes)  # refused here, not in the index
        # Checked again under the lock: two uploads of one name at once must not both be "added",
        # the second silently overwriting the first.
        with _PLACING:
            others = [p for p in files_of(settings, doc_id) if p != target]
            if not replace and (target.exists() or others):
                return Added(
                    name, doc_id, error=f"a document with id {doc_id!r} was added meanwhile; replace it instead"
                )
            exists = exists or target.exists() or bool(others)
            os.replace(tmp, target)  # atomic: the indexer sees the old file or the new one
            for other in others:  # the same id in another format: the new file replaces it
                other.unlink(missing_ok=True)
    except BadDocument as exc:
        return Added(name, doc_id, error=str(exc))
    finally:
        Path(tmp).unlink(missing_ok=True)
    return Added(name, doc_id, replaced=exists)


def files_of(settings: Settings, doc_id: str) -> list[Path]:
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        return []
    return [p for p in corpus_files(corpus) if doc_id_of(corpus, p) == doc_id]


def remove_document(settings: Settings, doc_id: str) -> list[str]:
    """Deletes the corpus file(s) of `doc_id`; their chunks leave the index at the next build."""
    return remove_documents(settings, [doc_id])


def remove_documents(settings: Settings, doc_ids: list[str]) -> list[str]:
    """Deletes the corpus files of every id, or none of them: each id is checked (it exists, and
    not every document goes) before the first file is deleted."""
    paths: list[Path] = []
    for doc_id in dict.fromkeys(doc_ids):
        found = files_of(settings, doc_id)
        if not found:
            raise UserError(f"no document with id {doc_id!r} in {settings.corpus_dir}; `doc-list` shows the ids")
        paths += found
    if len(paths) == len(corpus_files(settings.corpus_dir)):
        named = ", ".join(map(repr, dict.fromkeys(doc_ids)))
        which = "is the last document" if len(paths) == 1 else "are every document in the corpus"
        raise UserError(f"{named} {which}; add another before removing it")
    for path in paths:
        path.unlink()
    return [p.relative_to(settings.corpus_dir).as_posix() for p in paths]


def catalog(settings: Settings, manifest: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per document: what the index holds of it (title, format, size, chunks, when
    indexed), files not indexed yet ("pending"), and files skipped with their reason."""
    manifest = manifest or {}
    skipped = {s["path"]: s["reason"] for s in manifest.get("skipped", [])}
    indexed = {k: {"id": k, **v} for k, v in manifest.get("catalog", {}).items()}
    rows: dict[str, dict[str, Any]] = {}
    corpus = settings.corpus_dir
    for path in corpus_files(corpus) if corpus.is_dir() else []:
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # deleted (or replaced) since the folder was listed: as if never seen
            continue
        rel, doc_id = path.relative_to(corpus).as_posix(), doc_id_of(corpus, path)
        row = indexed.pop(doc_id, None) or {"id": doc_id, "title": "", "format": path.suffix.lstrip(".").lower()}
        if rel in skipped:  # kept from its last good version, or never indexed
            status, error = ("stale" if row.get("indexed_at") else "skipped"), skipped[rel]
        elif row.get("file") == rel and row.get("bytes") == size:
            status, error = "indexed", ""
        else:
            status, error = "pending", ""  # new or changed since the last build
        rows[doc_id] = {**row, "file": rel, "bytes": size, "status": status, "error": error}
    for doc_id, row in indexed.items():  # in the index, its file gone: it leaves at the next build
        rows[doc_id] = {**row, "status": "removed", "error": ""}
    return [rows[k] for k in sorted(rows)]
