"""JSON Lines in and out, with errors that name the file and line, and chat history parsing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import UserError


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: str  # "user" | "assistant"
    content: str


def parse_history(raw: Any, where: str) -> list[Turn]:
    """A `history` value from JSON (a list of {role, content}) -> turns, or a UserError naming `where`."""
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


def read_jsonl(path: Path, what: str = "file") -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a missing file or a bad line is a UserError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a JSONL file") from None
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
        out.append((n, item))
    return out


def dumps(row: Any) -> str:
    """One JSONL line (Chinese kept readable)."""
    return json.dumps(row, ensure_ascii=False)


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")
            n += 1
    return n
