"""Feedback on answers (thumbs up/down, "wrong citation"), kept in a database and exported as
evaluation cases so that what users flag becomes tomorrow's regression test.

SQLite in WAL mode by default, one short transaction per write: a crash loses at most the
write in flight. `QINGSHAN_FEEDBACK_DB` takes any SQLAlchemy URL (Postgres for several hosts).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.jsonl import write_jsonl

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
RATINGS = ("up", "down", "wrong_citation")


class FeedbackStore:
    """Feedback rows through SQLAlchemy Core: SQLite by default (WAL, one short transaction per
    write), or any database URL, e.g. Postgres when several servers run on several machines."""

    def __init__(self, url: str | Path) -> None:
        from sqlalchemy import MetaData, create_engine, event

        if isinstance(url, Path):
            url.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{url}"
        self.url = url
        try:
            self.engine = create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # an unknown scheme, a driver that is not installed
            raise UserError(
                f"the feedback database URL {url!r} cannot be used ({exc}); give a SQLAlchemy URL such as "
                "postgresql+psycopg://user@host/db, or leave it out for SQLite under data/"
            ) from None
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _wal(conn: Any, _: Any) -> None:
                cur = conn.cursor()
                cur.execute("pragma journal_mode=wal")
                cur.execute("pragma busy_timeout=10000")  # two servers may write at once
                cur.close()

        meta = MetaData()
        self.table, self.labels = _tables(meta)
        try:
            meta.create_all(self.engine)
            self._add_comment_column()
        except Exception as exc:
            raise UserError(f"the feedback database {self.engine.url!r} cannot be opened ({exc})") from None

    def _add_comment_column(self) -> None:
        """Databases made before comments existed get the column (create_all adds no columns)."""
        from sqlalchemy import inspect, text

        if "comment" not in {c["name"] for c in inspect(self.engine).get_columns("feedback")}:
            with self.engine.begin() as conn:
                conn.execute(text("ALTER TABLE feedback ADD COLUMN comment TEXT"))

    def add(
        self, rating: str, answer: dict[str, Any], history: list[dict[str, str]], comment: str | None = None
    ) -> int:
        """`answer` is the `ask --json` object of the rated answer; `comment` the user's own words."""
        if rating not in RATINGS:
            raise UserError(f"unknown rating {rating!r}; use one of {', '.join(RATINGS)}")
        row = {
            "ts": time.time(),
            "rating": rating,
            "question": answer["question"],
            "rewritten_question": answer.get("rewritten_question") or answer["question"],
            "history": json.dumps(history, ensure_ascii=False),
            "answer": answer["answer"],
            "refused": int(bool(answer.get("refused"))),
            "mode": str(answer.get("mode", ""))[:32],
            "citations": json.dumps(answer.get("citations", []), ensure_ascii=False),
            "comment": _comment(comment),
        }
        with self.engine.begin() as conn:  # committed (and on disk) when this returns
            key = conn.execute(self.table.insert().values(**row)).inserted_primary_key
            return int(key[0]) if key else 0

    def set_comment(self, feedback_id: int, comment: str) -> bool:
        """The user's words on a rating already stored (the chat page asks for them after the click)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                self.table.update().where(self.table.c.id == feedback_id).values(comment=_comment(comment))
            )
            return bool(done.rowcount)

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(self.table.select().order_by(self.table.c.id))]


def _tables(meta: Any) -> tuple[Any, Any]:
    from sqlalchemy import Column, Float, ForeignKey, Integer, String, Table, Text

    feedback = Table(
        "feedback",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("ts", Float, nullable=False),
        Column("rating", String(32), nullable=False),
        Column("question", Text, nullable=False),
        Column("rewritten_question", Text, nullable=False),
        Column("history", Text, nullable=False),
        Column("answer", Text, nullable=False),
        Column("refused", Integer, nullable=False),
        Column("mode", String(32), nullable=False),
        Column("citations", Text, nullable=False),
        Column("comment", Text, nullable=True),
    )
    # A reviewer's verdict on a feedback row. Append-only: a new label never overwrites an
    # old one, so two reviewers at once both keep theirs; the latest is the one in effect.
    labels = Table(
        "feedback_labels",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("feedback_id", Integer, ForeignKey("feedback.id"), nullable=False, index=True),
        Column("ts", Float, nullable=False),
        Column("reviewer", String(64), nullable=False),
        Column("action", String(16), nullable=False),  # "label" | "dismiss"
        Column("expected", Text, nullable=False),
        Column("should_refuse", Integer, nullable=False),
        Column("type", String(32), nullable=False),
    )
    return feedback, labels


COMMENT_CHARS = 2000


def _comment(text: str | None) -> str | None:
    """Control characters go (Postgres refuses NUL in text); line breaks and tabs stay."""
    text = "".join(ch for ch in (text or "") if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    return text[:COMMENT_CHARS] or None


def as_eval_case(row: dict[str, Any]) -> dict[str, Any]:
    """A feedback row in the evaluation question format (eval/qingshan.jsonl).

    A liked answer becomes a regression case as it stands: its cited quotes are the evidence and
    it must keep the numbers it gave. Disliked answers and wrong citations are exported with
    `needs_review: true` and empty `must`, for a person to fill in what the right answer is.
    """
    from bot.core.text import strip_markers

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
    if row.get("comment"):
        case["comment"] = row["comment"]
    return case


def export(store: FeedbackStore, out: Path) -> int:
    rows = store.rows()
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_jsonl(out, (as_eval_case(row) for row in rows))
