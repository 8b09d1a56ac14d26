"""Scale-out feedback: the same store on a real PostgreSQL server through a SQLAlchemy URL,
with `serve` writing to it and `feedback export` reading it back."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.screenshots import bot_server, free_port
from bot.evaluation.feedback import FeedbackStore
from tests.support import ARTICLE

pytestmark = [pytest.mark.integration, pytest.mark.server]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A private cluster on a free port, run as the `postgres` user (scripts/setup-system.sh)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: scripts/setup-system.sh installs it")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="qs-pg-"))
    shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    as_postgres(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "qs", "-E", "UTF8")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    # -l: the server must not inherit our pipes, or waiting for pg_ctl never ends.
    as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://qs@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_feedback_in_postgres_from_a_server_and_exported(postgres: str, tmp_path: Path) -> None:
    store = FeedbackStore(postgres)
    assert store.engine.dialect.name == "postgresql"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    args = ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "--mode", "extractive"]
    with bot_server([*args, "--feedback-db", postgres], free_port()) as server:
        answer = json.loads(_post(server + "/api/ask", {"question": "青山区2021年有多少家高新技术企业？"}))
        _post(server + "/api/feedback", {"rating": "up", "answer": answer})
        _post(server + "/api/feedback", {"rating": "wrong_citation", "answer": answer, "history": []})
    assert [r["rating"] for r in store.rows()][-2:] == ["up", "wrong_citation"]
    out = tmp_path / "cases.jsonl"
    env = dict(os.environ, QINGSHAN_FEEDBACK_DB=postgres)
    subprocess.run([sys.executable, "-m", "bot", "feedback", "export", "--out", str(out)], check=True, env=env)
    cases = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert ["19"] in cases[-2]["must"] and cases[-1]["needs_review"]


def _post(url: str, body: dict[str, object]) -> str:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode()


def test_review_labels_in_postgres_two_reviewers_at_once(postgres: str, tmp_path: Path) -> None:
    """Both labels of two reviewers at once are kept in Postgres too; the later is in effect."""
    import threading

    from bot.evaluation.review import add_label, export_reviewed, history, queue

    store = FeedbackStore(postgres)
    answer = {"question": "有多少家？", "answer": "19家。", "refused": False, "mode": "extractive", "citations": []}
    fid = store.add("down", answer, [], comment="数字不对")
    start = threading.Barrier(2)
    ids: dict[str, int] = {}

    def label(who: str) -> None:
        start.wait()
        ids[who] = add_label(store, fid, reviewer=who, action="label", expected="19家", qtype="number")

    threads = [threading.Thread(target=label, args=(w,)) for w in ("ana", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x["reviewer"] for x in history(store, fid)[fid]) == ["ana", "bo"]
    [item] = [i for i in queue(store) if i["id"] == fid]
    assert item["comment"] == "数字不对" and item["current"]["reviewer"] == max(ids, key=ids.__getitem__)
    out = tmp_path / "reviewed.jsonl"
    assert export_reviewed(store, out) >= 1
    assert f"review-{fid}" in out.read_text(encoding="utf-8")
