"""Development tools (bot.devtools): benchmarks, load tests, screenshots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings
from bot.core.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("docs", help="regenerate docs/cli.md and the README screenshots (a headless browser)")
    p.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNGs and cli.md (default docs/)")
    p.add_argument("--cli", action="store_true", help="only the command reference (docs/cli.md), no browser")
    p.add_argument(
        "--only",
        choices=["chat", "eval"],
        default=None,
        help="only the chat and widget screenshots, or only the /eval/ ones (default both)",
    )
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("bench-retrieval", help="speed of indexing, search and cold start")
    p.add_argument("--cmrc", type=Path, default=Path("../shared/benchmarks/cmrc2018/cmrc2018_trial.json"))
    p.add_argument("--out", type=Path, default=None, help="write bench JSON here")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_bench_retrieval)

    p = sub.add_parser("bench-docs", help="PDF and Word reading and indexing speed, in pages per second")
    p.add_argument("--pages", type=int, default=100, help="pages per document (default 100)")
    p.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_bench_docs)

    p = sub.add_parser("bench-http", help="cold start of `serve` and the HTTP overhead over an in-process answer")
    p.add_argument("--questions", type=Path, default=Path("eval/qingshan.jsonl"))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default="extractive")
    p.set_defaults(func=cmd_bench_http)

    p = sub.add_parser("loadtest", help="N concurrent clients against /api/ask on loopback; latency and errors")
    p.add_argument("--questions", type=Path, default=Path("eval/qingshan.jsonl"))
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default="extractive")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--think", type=float, default=1.0, help="mean pause between a client's questions (s)")
    p.add_argument("--url", default=None, help="test a running server instead of starting one")
    p.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    p.set_defaults(func=cmd_loadtest)

    p = sub.add_parser("bench-eval-page", help="time the /eval/ pages on synthetic runs (default 1,000 × 5)")
    p.add_argument("--questions", type=int, default=1000, help="questions per run (default 1000)")
    p.add_argument("--runs", type=int, default=5, help="run folders (default 5)")
    p.set_defaults(func=cmd_bench_eval_page)

    p = sub.add_parser("bench", help="qingshan-bot vs a tutorial LangChain RAG: accuracy, speed, memory")
    p.add_argument("--questions", type=Path, default=Path("eval/qingshan.jsonl"))
    p.add_argument("--limit", type=int, default=30, help="questions, every type kept (default 30; 0 = all)")
    p.add_argument("--out", type=Path, default=Path("out/bench"))
    p.add_argument("--cmrc", type=Path, default=None, help="CMRC 2018 split for the indexing figure")
    p.add_argument("--scales", default="1000,10000,100000", help="synthetic index sizes for search latency")
    p.add_argument(
        "--systems",
        default="peer,local,extractive",
        help="comma-separated, of peer, local, extractive, local_inprocess (the model without its worker process)",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench_docs(args: argparse.Namespace) -> int:
    if not 1 <= args.pages <= 2000:
        raise UserError("--pages must be between 1 and 2000")
    from bot.devtools.bench_documents import run_bench
    from bot.devtools.screenshots import check_browser

    check_browser()  # the PDF is printed by Chromium
    report = run_bench(args.pages, make_settings(args))
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from bot.cli import reference

    if not args.cli:
        from bot.devtools.screenshots import check_browser

        check_browser()  # before anything is written or a server starts for it
    print(f"wrote {reference.write(args.out / 'cli.md')}")
    if args.cli:
        return 0
    from bot.devtools.screenshots import take_eval_screenshots, take_screenshots

    paths = [] if args.only == "eval" else take_screenshots(args.out, make_settings(args).profile())
    if args.only != "chat":
        paths += take_eval_screenshots(args.out)
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_bench_eval_page(args: argparse.Namespace) -> int:
    from bot.devtools.bench_eval_page import run_bench

    if args.questions < 1 or args.runs < 1:
        raise UserError("--questions and --runs must be at least 1")
    print(json.dumps(run_bench(args.questions, args.runs), ensure_ascii=False, indent=2))
    return 0


def cmd_bench_retrieval(args: argparse.Namespace) -> int:
    from bot.devtools.bench_retrieval import run_bench

    report = run_bench(args.cmrc, args.out)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_bench_http(args: argparse.Namespace) -> int:
    from bot.devtools.bench_http import read_question_texts, run_http_bench

    report = run_http_bench(read_question_texts(args.questions, args.limit), args.mode)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from bot.devtools.loadtest import format_load, run_load

    if args.clients < 1 or args.seconds <= 0 or args.seconds > 3600 or args.think < 0:
        raise UserError("--clients ≥ 1, 0 < --seconds ≤ 3600 and --think ≥ 0")
    report = run_load(args.questions, args.mode, args.clients, args.seconds, args.think, args.url)
    text = format_load(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.devtools.bench import ALL_SYSTEMS, DEFAULT_CMRC, run_bench

    try:
        scales = tuple(int(x) for x in args.scales.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--scales wants numbers like 1000,10000, got {args.scales!r}") from None
    if not args.questions.is_file():
        raise UserError(f"questions file not found: {args.questions} (pass --questions FILE.jsonl)")
    if args.limit < 0 or any(n < 100 or n > 1_000_000 for n in scales):
        raise UserError("--limit must be ≥ 0 and each of --scales 100..1,000,000")
    systems = tuple(x.strip() for x in args.systems.split(",") if x.strip())
    if not systems or not set(systems) <= set(ALL_SYSTEMS):
        raise UserError(f"--systems takes a comma-separated list of {', '.join(ALL_SYSTEMS)}")
    report = run_bench(args.questions, args.limit or None, args.out, args.cmrc or DEFAULT_CMRC, scales, systems)
    print((args.out / "bench.md").read_text(encoding="utf-8"))
    print(f"wrote {args.out / 'bench.json'}, bench.md and bench.png ({len(report['systems'])} systems)")
    return 0
