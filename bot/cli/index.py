"""The corpus and its index: index, search, config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings, read_questions, store_args
from bot.core.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("index", help="build or update the index from the corpus")
    store_args(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    store_args(p)
    p.add_argument("query", nargs="?", help="the question")
    p.add_argument("--questions", type=Path, help="JSONL file with `id` and `question` per line")
    p.add_argument("--k", type=int, default=None, help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("config", help="print the settings in effect")
    store_args(p)
    p.set_defaults(func=cmd_config)


def cmd_index(args: argparse.Namespace) -> int:
    from bot.retrieval.indexer import build_index

    report = build_index(make_settings(args), rebuild=args.rebuild, progress=sys.stderr.isatty())
    print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from bot.retrieval.retriever import Retriever

    if (args.query is None) == (args.questions is None):
        raise UserError("give a question, or --questions FILE.jsonl (not both)")
    if args.k is not None and not 1 <= args.k <= 100:
        raise UserError("--k must be between 1 and 100")
    if args.query is not None and not args.query.strip():
        raise UserError("empty question: give the question to search for")
    items = read_questions(args.questions) if args.questions else [{"id": None, "question": args.query}]
    retriever = Retriever(make_settings(args), progress=sys.stderr.isatty())
    for item in items:
        passages = retriever.search(item["question"], k=args.k)
        if args.json:
            row = {
                "id": item["id"],
                "query": item["question"],
                "results": [p.as_dict() for p in passages],
            }
            print(json.dumps(row, ensure_ascii=False), flush=True)
            continue
        print(f"# {item['question']}")
        for p in passages:
            c = p.chunk
            print(f"[{p.rank}] {p.score:.4f}  {c.title} ({c.doc_id} {c.start}-{c.end})")
            print(f"    {c.text}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = make_settings(args)
    print(json.dumps(settings.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0
