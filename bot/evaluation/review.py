"""The review queue: feedback that says an answer was wrong (thumbs down, wrong citation, or a
comment) waits for a reviewer, who labels it with the expected answer or "should refuse" and a
question type, or dismisses it. Labelled items export as an evaluation set that `eval` runs as is.

Labels live beside the feedback (same database: SQLite by default, Postgres by URL). Each label
is one row written in one transaction, and rows are never updated: when two reviewers label the
same item at once both rows stay, the later one is in effect, and the earlier shows in the
item's history.
"""

from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.jsonl import write_jsonl
from bot.evaluation.feedback import FeedbackStore

# The question types of eval/README.md; a reviewer picks one.
TYPES = (
    "number",
    "entity",
    "list",
    "multi",
    "paraphrase",
    "english",
    "unanswerable",
    "false_premise",
    "injection",
    "followup",
)
ACTIONS = ("label", "dismiss")


def must_groups(expected: str) -> list[list[str]]:
    """The reviewer's expected answer as `must` groups: one group a line, alternatives split by `|`."""
    groups = []
    for line in expected.splitlines():
        alternatives = [x.strip() for x in line.split("|") if x.strip()]
        if alternatives:
            groups.append(alternatives)
    return groups


def add_label(
    store: FeedbackStore,
    feedback_id: int,
    *,
    reviewer: str,
    action: str,
    expected: str = "",
    should_refuse: bool = False,
    qtype: str = "",
) -> int:
    """One label row, in one transaction; returns its id. Never overwrites an earlier label."""
    if action not in ACTIONS:
        raise UserError(f"unknown review action {action!r}; use label or dismiss")
    reviewer = " ".join(_printable(reviewer).split())[:64] or "admin"
    expected = _printable(expected).strip()[:4000]
    if action == "label":
        if qtype not in TYPES:
            raise UserError(f"pick the question's type, one of {', '.join(TYPES)}")
        if not should_refuse and not must_groups(expected):
            raise UserError(
                'give the expected answer (one required string a line, alternatives split by "|"), '
                'or mark it "should refuse"'
            )
    row = {
        "feedback_id": feedback_id,
        "ts": time.time(),
        "reviewer": reviewer,
        "action": action,
        "expected": "" if should_refuse or action == "dismiss" else expected,
        "should_refuse": int(bool(should_refuse) and action == "label"),
        "type": qtype if action == "label" else "",
    }
    feedback, labels = store.table, store.labels
    with store.engine.begin() as conn:
        if conn.execute(feedback.select().where(feedback.c.id == feedback_id)).first() is None:
            raise UserError(f"no feedback item {feedback_id}")
        key = conn.execute(labels.insert().values(**row)).inserted_primary_key
    return int(key[0]) if key else 0


def _printable(text: str) -> str:
    """Control characters go (Postgres refuses NUL in text: a 500 instead of a label); line breaks stay."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def history(store: FeedbackStore, feedback_id: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """Labels by feedback id, oldest first (the last one is in effect)."""
    q = store.labels.select().order_by(store.labels.c.id)
    if feedback_id is not None:
        q = q.where(store.labels.c.feedback_id == feedback_id)
    out: dict[int, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(q):
            out.setdefault(int(r.feedback_id), []).append(dict(r._mapping))
    return out


def in_queue(row: dict[str, Any]) -> bool:
    return row["rating"] != "up" or bool(row.get("comment"))


def queue(store: FeedbackStore) -> list[dict[str, Any]]:
    """Queue items, newest first: the feedback row, its citations parsed, its labels and status."""
    labels = history(store)
    items = []
    for row in reversed(store.rows()):
        if not in_queue(row):
            continue
        hist = labels.get(int(row["id"]), [])
        current = hist[-1] if hist else None
        status = "open" if current is None else ("dismissed" if current["action"] == "dismiss" else "labelled")
        items.append(
            {
                **row,
                "citations": json.loads(row["citations"]),
                "history": json.loads(row["history"]),
                "labels": hist,
                "current": current,
                "status": status,
            }
        )
    return items


def as_case(item: dict[str, Any]) -> dict[str, Any]:
    """A labelled queue item in the question format of eval/README.md."""
    label = item["current"]
    refuse = bool(label["should_refuse"])
    case: dict[str, Any] = {
        "id": f"review-{item['id']}",
        "type": label["type"],
        "question": item["question"],
        "answerable": not refuse,
        "must": [] if refuse else must_groups(label["expected"]),
        "evidence": [],
        "source": {"feedback": item["id"], "rating": item["rating"], "reviewer": label["reviewer"]},
    }
    if item["history"]:
        case["history"] = item["history"]
    return case


def reviewed_cases(store: FeedbackStore) -> list[dict[str, Any]]:
    return [as_case(item) for item in reversed(queue(store)) if item["status"] == "labelled"]


def export_reviewed(store: FeedbackStore, out: Path) -> int:
    cases = reviewed_cases(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_jsonl(out, cases)
