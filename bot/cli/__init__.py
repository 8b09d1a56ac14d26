"""Command line: each command parses its arguments and makes one library call.

Only the standard library is imported at module level, so `--help` is instant; commands import
what they need when they run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable

from bot.core.errors import UserError

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import answers, dev, documents, evaluate, index, models, serve
    from bot.cli.reference import subcommands

    parser = argparse.ArgumentParser(
        prog="qingshan-bot",
        description="Cited question answering over a folder of Chinese documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (index, documents, answers, evaluate, serve, models, dev):
        group.register(sub)
    # Every command takes -v, which also shows the traceback of an error.
    for _, command in subcommands(parser):
        if "-v" not in command._option_string_actions and not any(
            isinstance(a, argparse._SubParsersAction) for a in command._actions
        ):
            command.add_argument("-v", "--verbose", action="store_true", help="log progress; show tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    from bot.core.offline import enforce_offline

    enforce_offline()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("bm25s", "httpx", "chromadb", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The format libraries warn about every quirk of a file; the index report says what matters.
    for noisy in ("pypdf", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    func: Callable[[argparse.Namespace], int] = args.func
    debug = bool(os.environ.get("QINGSHAN_DEBUG") or getattr(args, "verbose", False))
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        # A user never meets a traceback: one line that says what is wrong and what to do
        # (a UserError's message says both), and how to see more. Debugging shows it too.
        if debug:
            traceback.print_exc()
        known = isinstance(exc, UserError)
        text = str(exc) if known else f"{exc.__class__.__name__}: {exc} (QINGSHAN_DEBUG=1 or -v shows the traceback)"
        print(f"qingshan-bot: error: {' '.join(text.split())}", file=sys.stderr)
        return 2
