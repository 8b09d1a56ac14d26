"""Answers: ask (one question or a JSONL batch) and chat (interactive, multi-turn)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings, read_questions, store_args
from bot.core.errors import UserError
from bot.core.jsonl import parse_history
from bot.core.text import clean_question


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="answer a question with citations")
    store_args(p)
    p.add_argument("question", nargs="?", help="the question")
    p.add_argument("--questions", type=Path, help="JSONL with `id`, `question` and optional `history`")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default=None)
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive multi-turn chat in the terminal")
    store_args(p)
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default=None)
    p.set_defaults(func=cmd_chat)


def _print_answer(ans: Any) -> None:
    print(ans.text)
    for c in ans.citations:
        where = f" 第{c.page}页" if c.page else ""
        print(f"  [{c.n}] {c.title} ({c.doc_id}{where} {c.start}-{c.end}): {c.quote}")
    print(f"  ({ans.mode}{', refused' if ans.refused else ''}; {ans.timings.get('total_ms', 0):.0f} ms)")


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.answering.answerer import Answerer

    if (args.question is None) == (args.questions is None):
        raise UserError("give a question, or --questions FILE.jsonl (not both)")
    items = read_questions(args.questions) if args.questions else [{"id": None, "question": args.question}]
    answerer = Answerer(make_settings(args))
    for item in items:
        where = f"{args.questions}:{item['id']}" if args.questions else "question"
        question = clean_question(item["question"], answerer.settings.max_query_chars)
        ans = answerer.answer(question, parse_history(item.get("history"), where), args.mode)
        if args.mode == "local" and ans.degraded:
            # Asked for the local model by name: its death is the answer, not a quiet fallback.
            raise UserError(
                f"{ans.degraded}. Run `bash scripts/setup.sh` (it rebuilds llama-cpp-python and proves the build "
                "on this CPU), or ask with --mode extractive"
            )
        if args.json:
            print(json.dumps(ans.as_dict(item["id"]), ensure_ascii=False), flush=True)
        else:
            _print_answer(ans)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.answering.answerer import Answerer
    from bot.answering.types import Answer
    from bot.core.jsonl import Turn

    answerer = Answerer(make_settings(args))
    mode = answerer.warm_up(args.mode)
    print(f"qingshan-bot ({mode}) — 输入问题，空行或 Ctrl-D 退出。", file=sys.stderr)
    history: list[Turn] = []
    while True:
        try:
            question = input("你> ")
        except EOFError:
            break
        if not question.strip():
            break
        try:
            question = clean_question(question, answerer.settings.max_query_chars)
            final = None
            for item in answerer.stream(question, history, args.mode):
                if isinstance(item, Answer):
                    final = item
                else:
                    print(item, end="", flush=True)
            print()
            assert final is not None
            for c in final.citations:
                print(f"  [{c.n}] {c.quote}")
            history += [Turn("user", question), Turn("assistant", final.text)]
        except UserError as exc:
            print(f"qingshan-bot: {exc}", file=sys.stderr)
    return 0
