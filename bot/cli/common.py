"""What the commands share: the index options, settings from flags, question files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.errors import UserError
from bot.core.jsonl import read_jsonl

if TYPE_CHECKING:
    from bot.core.settings import Settings


def store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of .txt/.md documents (default corpus/)")
    p.add_argument("--index", type=Path, help="index folder (default index/)")
    p.add_argument(
        "--chroma-server",
        metavar="HOST:PORT",
        help="use a `chroma run` server instead of the embedded store",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr; show tracebacks")


def make_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from pydantic import ValidationError

    from bot.core.settings import Settings

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


def read_questions(path: Path) -> list[dict[str, Any]]:
    """JSONL questions; each line needs `question` (and an `id`, else its line number)."""

    out = []
    for n, item in read_jsonl(path, "questions file"):
        q = item.get("question")
        if not isinstance(q, str) or not q.strip():
            raise UserError(f"{path}:{n}: `question` must be a non-empty string")
        item.setdefault("id", n)
        out.append(item)
    if not out:
        raise UserError(f"{path}: no questions")
    return out
