"""Document management without a shell's file commands: doc-add, doc-list, doc-remove. Each
change ends in the same incremental build as `index`, so the answer to the next question
already knows. (`docs` is taken: it writes docs/cli.md and the screenshots.)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings, store_args
from bot.core.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("doc-add", help="add (or --replace) documents in the corpus, then update the index")
    store_args(p)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".pdf .docx .html .txt .md files")
    p.add_argument("--replace", action="store_true", help="replace a document that has the same id (file stem)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("doc-list", help="list the documents: title, format, size, chunks, when indexed, errors")
    store_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object per document")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("doc-remove", help="remove documents from the corpus by id, then update the index")
    store_args(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="document ids as `doc-list` shows them")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_remove)


def cmd_add(args: argparse.Namespace) -> int:
    from bot.retrieval.documents import Added, add_files, check_upload_count, over_limit

    settings = make_settings(args)
    check_upload_count(settings, len(args.files))
    files, too_big = [], {}
    for i, path in enumerate(args.files):
        if not path.is_file():
            raise UserError(f"file not found: {path}")
        # The size first: a file over the limit is refused without being read into memory.
        if error := over_limit(settings, path.stat().st_size):
            too_big[i] = Added(path.name, "", error=error)
            continue
        with path.open("rb") as fh:  # never past the limit, even if the file grows meanwhile
            files.append((path.name, fh.read(settings.max_document_bytes + 1)))
    added_files = iter(add_files(settings, files, replace=args.replace) if files else [])
    results = [too_big[i] if i in too_big else next(added_files) for i in range(len(args.files))]
    added = [r for r in results if not r.error]
    refused = [r for r in results if r.error]
    report = _reindex(settings) if added else None
    _print(args, {"files": [r.__dict__ for r in results], "index": report}, [r.line() for r in added], report)
    if refused:
        raise UserError(f"refused {len(refused)} of {len(results)} files: " + "; ".join(r.line() for r in refused))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from bot.retrieval.documents import remove_documents

    settings = make_settings(args)
    if not settings.corpus_dir.is_dir():
        raise UserError(f"corpus folder not found: {settings.corpus_dir} (create it or pass --corpus DIR)")
    removed = remove_documents(settings, args.ids)  # all or none: a wrong id deletes nothing
    report = _reindex(settings)
    _print(args, {"removed": removed, "index": report}, [f"removed {name}" for name in removed], report)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from bot.retrieval.documents import catalog
    from bot.retrieval.store import Store

    settings = make_settings(args)
    if not settings.corpus_dir.is_dir():
        raise UserError(f"corpus folder not found: {settings.corpus_dir} (create it or pass --corpus DIR)")
    state = Store(settings).state()
    rows = catalog(settings, state.manifest if state else None)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(f"{'id':<24} {'format':<6} {'bytes':>10} {'chunks':>6} {'indexed':<20} title / status")
    for row in rows:
        note = row["title"] if row["status"] == "indexed" else f"[{row['status']}] {row['error'] or row['title']}"
        chunks = row.get("chunks", "")
        indexed = row.get("indexed_at", "")
        print(f"{row['id']:<24} {row['format']:<6} {row['bytes']:>10,} {chunks!s:>6} {indexed:<20} {note}")
    return 0


def _reindex(settings: Any) -> dict[str, Any]:
    from bot.retrieval.indexer import build_index

    return build_index(settings, progress=sys.stderr.isatty()).as_dict()


def _print(args: argparse.Namespace, payload: dict[str, Any], lines: list[str], report: dict[str, Any] | None) -> None:
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
        return
    for line in lines:
        print(line)
    if report is not None:
        from bot.retrieval.indexer import IndexReport

        print(IndexReport(**report).summary())
