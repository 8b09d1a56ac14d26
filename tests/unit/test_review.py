"""The review queue on a real SQLite database: comments, labels kept as history when two
reviewers label at once, old databases given the comment column, and the export `eval` reads."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.core.errors import UserError
from bot.evaluation.feedback import FeedbackStore
from bot.evaluation.review import add_label, export_reviewed, history, must_groups, queue

ANSWER = {
    "question": "<script>alert(1)</script>有多少家企业？",
    "answer": "19家。[1]",
    "refused": False,
    "mode": "extractive",
    "citations": [{"n": 1, "quote": "企业19家", "text": "高新技术企业19家。", "title": "t", "doc_id": "d"}],
}


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "fb.sqlite3")


def test_down_ratings_and_comments_are_queued_and_likes_are_not(store: FeedbackStore) -> None:
    liked = store.add("up", ANSWER, [])
    down = store.add("down", ANSWER, [{"role": "user", "content": "前一问"}], comment="  数字不对  ")
    wrong = store.add("wrong_citation", ANSWER, [])
    commented = store.add("up", ANSWER, [])
    assert store.set_comment(commented, "其实还想知道年份")
    assert not store.set_comment(9999, "nobody")
    nul = store.add("down", ANSWER, [], comment="a\x00b\x07\nc" + "长" * 3000)
    assert next(i for i in queue(store) if i["id"] == nul)["comment"] == "ab\nc" + "长" * 1996
    items = {i["id"]: i for i in queue(store)}
    assert set(items) == {down, wrong, commented, nul} and liked not in items
    assert items[down]["comment"] == "数字不对" and items[down]["status"] == "open"
    assert items[down]["citations"][0]["quote"] == "企业19家"


def test_two_reviewers_at_once_keep_both_labels_and_the_later_wins(store: FeedbackStore) -> None:
    fid = store.add("down", ANSWER, [])
    start = threading.Barrier(2)
    ids: dict[str, int] = {}

    def label(who: str, expected: str) -> None:
        start.wait()
        ids[who] = add_label(store, fid, reviewer=who, action="label", expected=expected, qtype="number")

    threads = [threading.Thread(target=label, args=(w, e)) for w, e in (("ana", "19家"), ("bo", "19|十九"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = history(store, fid)[fid]
    assert sorted(x["reviewer"] for x in labels) == ["ana", "bo"]
    later = max(ids, key=ids.__getitem__)
    [item] = queue(store)
    assert item["current"]["reviewer"] == later and item["status"] == "labelled" and len(item["labels"]) == 2


def test_labels_are_checked(store: FeedbackStore) -> None:
    fid = store.add("down", ANSWER, [])
    with pytest.raises(UserError, match="expected answer"):
        add_label(store, fid, reviewer="r", action="label", expected="  ", qtype="number")
    with pytest.raises(UserError, match="type"):
        add_label(store, fid, reviewer="r", action="label", expected="19", qtype="poem")
    with pytest.raises(UserError, match="no feedback item"):
        add_label(store, fid + 100, reviewer="r", action="dismiss")
    assert history(store) == {}
    assert must_groups("19家|十九家\n\n 2021 ") == [["19家", "十九家"], ["2021"]]


def test_export_holds_labelled_items_only_in_the_eval_format(store: FeedbackStore, tmp_path: Path) -> None:
    a = store.add("down", ANSWER, [{"role": "user", "content": "前一问"}])
    b = store.add("wrong_citation", ANSWER, [])
    c = store.add("down", ANSWER, [])
    add_label(store, a, reviewer="r", action="label", expected="19家|十九家", qtype="number")
    add_label(store, b, reviewer="r", action="label", should_refuse=True, qtype="unanswerable")
    add_label(store, c, reviewer="r", action="label", expected="x", qtype="entity")
    add_label(store, c, reviewer="s", action="dismiss")  # dismissed after all: not exported
    out = tmp_path / "set.jsonl"
    assert export_reviewed(store, out) == 2
    cases = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in cases] == [f"review-{a}", f"review-{b}"]
    assert cases[0]["must"] == [["19家", "十九家"]] and cases[0]["answerable"] and cases[0]["history"]
    assert cases[1]["must"] == [] and cases[1]["answerable"] is False and cases[1]["type"] == "unanswerable"


def test_a_database_from_before_comments_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "create table feedback (id integer primary key autoincrement, ts float not null, rating varchar(32) "
            "not null, question text not null, rewritten_question text not null, history text not null, "
            "answer text not null, refused integer not null, mode varchar(32) not null, citations text not null)"
        )
        db.execute("insert into feedback values (1, 0, 'down', 'q', 'q', '[]', 'a', 0, 'extractive', '[]')")
    store = FeedbackStore(path)
    assert store.set_comment(1, "added later")
    assert queue(store)[0]["comment"] == "added later"


def test_labels_lose_control_characters_keep_line_breaks(store: FeedbackStore) -> None:
    """Postgres refuses NUL in text: a label pasted with one would be a 500, not a label."""
    fid = store.add("down", ANSWER, [])
    add_label(store, fid, reviewer="a\x00na\x07", action="label", expected="19家\x00\n2021\x1b", qtype="number")
    [label] = history(store)[fid]
    assert (label["reviewer"], label["expected"]) == ("ana", "19家\n2021")
