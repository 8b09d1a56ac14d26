"""docs/cli.md, generated from the CLI's own parser so it cannot drift from the code
(`qingshan-bot docs --cli`; tests/architecture checks that the committed file is current)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HEADER = (
    "# Command reference\n\n"
    "Generated from the parser by `qingshan-bot docs --cli`; do not edit by hand "
    "(a test fails when this file is stale).\n"
)


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command of a parser, with its full name ("models pull")."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((name, sub))
                out += [(f"{name} {n}", s) for n, s in subcommands(sub)]
    return out


def render() -> str:
    from bot.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix it, so the text is stable
    try:
        parser = build_parser()
        parts = [HEADER, "```\n" + parser.format_help().rstrip() + "\n```\n"]
        for name, sub in subcommands(parser):
            parts.append(f"## `qingshan-bot {name}`\n\n```\n{sub.format_help().rstrip()}\n```\n")
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(parts)


def write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path
