"""The server: the chat page, the widget and the HTTP API in one process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import make_settings, store_args
from bot.core.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the chat page, the widget and the HTTP API")
    store_args(p)
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


def cmd_serve(args: argparse.Namespace) -> int:
    extra = {"host": args.host, "port": args.port, "mode": args.mode, "data_dir": args.data}
    extra["feedback_db"] = args.feedback_db
    if args.allowed_origins is not None:
        extra["allowed_origins"] = args.allowed_origins
    settings = make_settings(args, **extra)
    check_port(settings.host, settings.port)  # before seconds of loading, not after

    from bot.server.app import serve

    serve(settings)
    return 0


def check_port(host: str, port: int) -> None:
    """The address can be listened on, or a UserError that says why and what to do."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc}); pass --host with this machine's address") from None
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(address)
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            hint = "another server is using it: stop that one or pass --port" if busy else "pass --host/--port"
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); {hint}") from None
