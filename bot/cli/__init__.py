"""Command line: each command parses its arguments and makes one library call.

Only the standard library is imported at module level, so `--help` is instant; commands import
what they need when they run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from bot.core.errors import UserError

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import answers, dev, evaluate, index, models, serve

    parser = argparse.ArgumentParser(
        prog="qingshan-bot",
        description="Cited question answering over a folder of Chinese documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (index, answers, evaluate, serve, models, dev):
        group.register(sub)
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
    except Exception as exc:
        # A user should never meet a traceback: one line, and how to see more.
        if os.environ.get("QINGSHAN_DEBUG") or getattr(args, "verbose", False):
            raise
        print(
            f"qingshan-bot: error: {exc.__class__.__name__}: {exc} (QINGSHAN_DEBUG=1 or -v shows the traceback)",
            file=sys.stderr,
        )
        return 2
