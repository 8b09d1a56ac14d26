"""Feedback on answers (thumbs up/down, "wrong citation"), kept in SQLite and exported as
evaluation cases so that what users flag becomes tomorrow's regression test.

WAL mode and one short transaction per write: a crash loses at most the write in flight.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bot.errors import UserError

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
RATINGS = ("up", "down", "wrong_citation")
_SCHEMA = """
create table if not exists feedback (
    id integer primary key autoincrement,
    ts real not null,
    rating text not null,
    question text not null,
    rewritten_question text not null,
    history text not null,
    answer text not null,
    refused integer not null,
    mode text not null,
    citations text not null
)
"""


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("pragma journal_mode=wal")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def add(self, rating: str, answer: dict[str, Any], history: list[dict[str, str]]) -> int:
        """`answer` is the `ask --json` object of the rated answer."""
        if rating not in RATINGS:
            raise UserError(f"unknown rating {rating!r}; use one of {', '.join(RATINGS)}")
        row = (
            time.time(),
            rating,
            answer["question"],
            answer.get("rewritten_question") or answer["question"],
            json.dumps(history, ensure_ascii=False),
            answer["answer"],
            int(bool(answer.get("refused"))),
            answer.get("mode", ""),
            json.dumps(answer.get("citations", []), ensure_ascii=False),
        )
        with self._lock, self._connect() as db:
            cur = db.execute(
                "insert into feedback (ts, rating, question, rewritten_question, history, answer, refused, mode,"
                " citations) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid or 0)

    def rows(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("select * from feedback order by id")]


def as_eval_case(row: dict[str, Any]) -> dict[str, Any]:
    """A feedback row in the evaluation question format (eval/qingshan.jsonl).

    A liked answer becomes a regression case as it stands: its cited quotes are the evidence and
    it must keep the numbers it gave. Disliked answers and wrong citations are exported with
    `needs_review: true` and empty `must`, for a person to fill in what the right answer is.
    """
    from bot.sentences import strip_markers

    citations = json.loads(row["citations"])
    liked = row["rating"] == "up"
    refused = bool(row["refused"])
    case: dict[str, Any] = {
        "id": f"feedback-{row['id']}",
        "type": "feedback",
        "question": row["question"],
        # Liked refusal: the text does not answer it. Disliked refusal: the user says it does.
        "answerable": not refused if liked else True,
        "must": [[n] for n in sorted(set(_DIGITS.findall(strip_markers(row["answer"]))))]
        if liked and not refused
        else [],
        "evidence": [c["quote"] for c in citations] if liked and not refused else [],
        "feedback": row["rating"],
        "needs_review": not liked,
        "answer_given": row["answer"],
        "mode": row["mode"],
    }
    history = json.loads(row["history"])
    if history:
        case["history"] = history
    return case


def export(store: FeedbackStore, out: Path) -> int:
    rows = store.rows()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(as_eval_case(row), ensure_ascii=False) + "\n")
    return len(rows)
