"""Evaluation: eval, score, eval-retrieval, cmrc-convert, and feedback exported as cases."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings, read_questions, store_args
from bot.core.errors import UserError
from bot.core.jsonl import parse_history, read_jsonl


def register(sub: Any) -> None:
    _register_sets(sub)
    p = sub.add_parser("eval", help="answer a question set and write report.json, report.md and charts")
    store_args(p)
    p.add_argument("--questions", type=Path, help="JSONL in the format of eval/README.md")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive", "all"], default="auto")
    p.add_argument("--out", type=Path, default=None, help="output folder (default out/eval, or out/compare)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--judge", action="store_true", help="add the (slow) LLM-judge scores")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="compare two runs: eval folders (DIR or DIR#MODE), or MODE[,SETTING=VALUE…] run now on --questions "
        "(e.g. extractive,ranker=keyword); writes compare.md/.json/.png",
    )
    p.add_argument(
        "--metric", default="accuracy", help="with --compare: the overall metric to gate on (default accuracy)"
    )
    p.add_argument(
        "--max-drop",
        type=float,
        default=None,
        help="with --compare: exit 1 when --metric gets worse by more than this (e.g. 0.02; latency in ms)",
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("score", help="score `ask --json` answers against a question file")
    p.add_argument("--questions", type=Path, required=True)
    p.add_argument("--answers", type=Path, required=True)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("eval-retrieval", help="recall@k and MRR of retrieval on a question set")
    store_args(p)
    p.add_argument(
        "--questions",
        type=Path,
        required=True,
        help="JSONL with `question` and `evidence` (see eval/README.md)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval_retrieval)

    p = sub.add_parser("cmrc-convert", help="turn a CMRC 2018 split into a corpus and questions")
    p.add_argument("source", type=Path, help="cmrc2018_*.json")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_cmrc_convert)

    p = sub.add_parser("feedback", help="feedback users gave on the chat page")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    fp = fsub.add_parser("export", help="write feedback as evaluation cases (eval/README.md format)")
    fp.add_argument("--data", type=Path, default=None, help="folder holding feedback.sqlite3 (default data/)")
    fp.add_argument("--db", default=None, help="SQLAlchemy URL instead of the SQLite file (QINGSHAN_FEEDBACK_DB)")
    fp.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    fp.add_argument(
        "--reviewed",
        action="store_true",
        help="only items a reviewer labelled on /eval/ (an eval set `eval` runs as is)",
    )
    fp.set_defaults(func=cmd_feedback_export)


def _questions(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.questions is None:
        raise UserError("give --questions FILE.jsonl (the format of eval/README.md)")
    questions = read_questions(args.questions)
    if args.limit is not None:
        if args.limit < 1:
            raise UserError("--limit must be at least 1")
        questions = questions[: args.limit]
    for item in questions:
        parse_history(item.get("history"), f"{args.questions}:{item['id']}")
    return questions


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    return {"questions": str(args.questions), "limit": args.limit}


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.answering.answerer import Answerer
    from bot.evaluation.runner import run_eval

    if args.compare:
        return cmd_compare(args)
    if args.max_drop is not None:
        raise UserError("--max-drop gates a comparison: use it with --compare RUN_A RUN_B")
    questions = _questions(args)
    out = args.out or Path("out/eval")
    report = run_eval(
        Answerer(make_settings(args)),
        questions,
        args.mode,
        out,
        progress=sys.stderr.isatty(),
        judge=args.judge,
        meta=_meta(args),
    )
    acc = report["accuracy"]
    print(f"accuracy: {acc}  (report: {out / 'report.md'})")
    for mode, r in (report.get("modes") or {report.get("mode"): report}).items():
        if guard := r.get("guard"):
            print(
                f"{mode}: attacks stopped {guard['attacks_stopped']} of {guard['attacks']}, "
                f"benign declined {guard['benign_declined']} of {guard['benign']}"
            )
    return 0


MODES = ("auto", "local", "openai", "extractive")


def _compare_side(args: argparse.Namespace, spec: str, out: Path, label: str) -> Any:
    """An eval folder as it is, or `MODE[,KEY=VALUE…]` answered now into out/run-<label>."""
    from bot.evaluation.runs import load_run

    if Path(spec.partition("#")[0]).is_dir():
        return load_run(spec)
    mode, *pairs = [x.strip() for x in spec.split(",")]
    if mode not in MODES:
        raise UserError(
            f"--compare: {spec!r} is neither an eval folder nor a mode; give DIR, DIR#MODE or "
            f"MODE[,SETTING=VALUE…] with MODE one of {', '.join(MODES)}"
        )
    overrides = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UserError(f"--compare: {pair!r} in {spec!r} is not SETTING=VALUE (e.g. ranker=keyword)")
        from bot.core.settings import Settings

        if key.strip() not in Settings.model_fields:
            raise UserError(f"--compare: no setting {key.strip()!r}; `qingshan-bot config` lists them")
        overrides[key.strip()] = value.strip()
    from bot.answering.answerer import Answerer
    from bot.evaluation.runner import run_eval

    settings = make_settings(args, **overrides)
    folder = out / f"run-{label}"
    meta = {**_meta(args), "spec": spec}
    run_eval(Answerer(settings), _questions(args), mode, folder, progress=sys.stderr.isatty(), meta=meta)
    return load_run(folder)


def cmd_compare(args: argparse.Namespace) -> int:
    from bot.evaluation.compare import OVERALL, compare_runs, gate, write_compare

    if args.metric not in OVERALL:
        raise UserError(f"--metric {args.metric!r} is not an overall metric; use one of {', '.join(OVERALL)}")
    if args.max_drop is not None and args.max_drop < 0:
        raise UserError("--max-drop must be 0 or more")
    out = args.out or Path("out/compare")
    a = _compare_side(args, args.compare[0], out, "a")
    b = _compare_side(args, args.compare[1], out, "b")
    result = compare_runs(a, b)
    write_compare(result, out)
    o = result["overall"]["accuracy"]
    print(
        f"accuracy {o['a']} → {o['b']}; {result['regressions']} regressions, {result['fixes']} fixes "
        f"(report: {out / 'compare.md'})"
    )
    if args.max_drop is None:
        return 0
    ok, message = gate(result, args.metric, args.max_drop)
    print(message)
    return 0 if ok else 1


def cmd_score(args: argparse.Namespace) -> int:
    from bot.evaluation.scoring import score_files

    questions = read_questions(args.questions)
    answers = read_answers(args.answers)
    ids = {str(q["id"]) for q in questions}
    matched = sum(str(a.get("id")) in ids for a in answers)
    if not matched:
        raise UserError(
            f"none of the {len(answers)} answers in {args.answers} has the id of a question in {args.questions}; "
            f"write them with `qingshan-bot ask --questions {args.questions} --json > {args.answers}`"
        )
    if matched < len(questions):
        print(f"scoring {matched} of {len(questions)} questions (the rest have no answer)", file=sys.stderr)
    print(json.dumps(score_files(questions, answers), ensure_ascii=False, indent=2))
    return 0


def read_answers(path: Path) -> list[dict[str, Any]]:
    """`ask --json` lines: each needs a string `answer`, and `citations` a list of objects."""
    rows = []
    for n, row in read_jsonl(path, "answers file"):
        cites = row.get("citations", [])
        if not isinstance(row.get("answer"), str):
            raise UserError(f"{path}:{n}: `answer` must be a string (is this a file written by `ask --json`?)")
        if not isinstance(cites, list) or not all(isinstance(c, dict) for c in cites):
            raise UserError(f"{path}:{n}: `citations` must be a list of objects, as `ask --json` writes them")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no answers")
    return rows


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from bot.evaluation.retrieval_eval import evaluate_retrieval, format_report
    from bot.retrieval.retriever import Retriever

    settings = make_settings(args)
    report = evaluate_retrieval(Retriever(settings), read_questions(args.questions))
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def cmd_cmrc_convert(args: argparse.Namespace) -> int:
    from bot.evaluation.cmrc import convert

    n_docs, n_q = convert(args.source, args.out)
    print(f"wrote {n_docs} documents to {args.out / 'corpus'} and {n_q} questions to {args.out / 'questions.jsonl'}")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from bot.evaluation.feedback import FeedbackStore, export

    settings = make_settings(args, data_dir=args.data, feedback_db=args.db)
    target = settings.feedback_target()
    if isinstance(target, Path) and not target.exists():
        raise UserError(f"no feedback database at {target}; it is created by `qingshan-bot serve`")
    if args.reviewed:
        from bot.evaluation.review import export_reviewed

        n = export_reviewed(FeedbackStore(target), args.out)
    else:
        n = export(FeedbackStore(target), args.out)
    print(f"wrote {n} evaluation cases to {args.out}")
    return 0


def _register_sets(sub: Any) -> None:
    p = sub.add_parser("cmrc-sets", help="build the open-corpus development sets from a CMRC 2018 split")
    p.add_argument("source", type=Path, help="cmrc2018_*.json")
    p.add_argument("--out", type=Path, required=True, help="output folder (corpora, sets, sets.json)")
    p.set_defaults(func=cmd_cmrc_sets)

    p = sub.add_parser("calibrate", help="fit the relevance signal on the dev split of a cmrc-sets folder")
    p.add_argument("--sets", type=Path, required=True, help="folder written by `cmrc-sets`")
    p.add_argument(
        "--max-false-refusal", type=float, default=0.03, help="on each corpus's answerable dev questions (default 0.03)"
    )
    p.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="a question set over the configured corpus, fitted on too (repeatable; eval/qingshan.jsonl)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser(
        "judge-probe", help="measure the local model as a yes/no relevance judge on a dev sample (docs/answers.md)"
    )
    p.add_argument("--sets", type=Path, required=True, help="folder written by `cmrc-sets`")
    p.add_argument("--per-set", type=int, default=60, help="dev questions sampled per set (default 60)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_judge_probe)

    p = sub.add_parser("eval-suite", help="run every set of a cmrc-sets folder through eval; one summary")
    p.add_argument("--sets", type=Path, required=True, help="folder written by `cmrc-sets`")
    p.add_argument("--split", choices=["dev", "heldout"], default="dev")
    p.add_argument("--mode", choices=["auto", "local", "openai", "extractive"], default="extractive")
    p.add_argument("--only", default=None, help="comma-separated set names (default: all)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    p.add_argument("--out", type=Path, default=Path("out/suite"), help="output folder (default out/suite)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_eval_suite)


def cmd_cmrc_sets(args: argparse.Namespace) -> int:
    from bot.evaluation.cmrc_sets import build

    manifest = build(args.source, args.out)
    for name, entry in manifest["sets"].items():
        print(f"{name}: {entry['dev']['n']} dev, {entry['heldout']['n']} held out")
    print(f"wrote {args.out / 'sets.json'}")
    return 0


def cmd_eval_suite(args: argparse.Namespace) -> int:
    from bot.evaluation.suite import render, run_suite

    only = [x.strip() for x in args.only.split(",") if x.strip()] if args.only else None
    summary = run_suite(make_settings(args), args.sets, args.split, args.mode, args.out, only, args.limit)
    print(render(summary))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from bot.evaluation.calibrate import calibrate

    model = calibrate(make_settings(args), args.sets, args.max_false_refusal, tuple(args.also))
    print(json.dumps(model, ensure_ascii=False, indent=2))
    return 0


def cmd_judge_probe(args: argparse.Namespace) -> int:
    if not 10 <= args.per_set <= 1000:
        raise UserError("--per-set must be between 10 and 1000")
    from bot.evaluation.judge_probe import probe, render

    report = probe(make_settings(args), args.sets, args.per_set, args.seed)
    print(render(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0
