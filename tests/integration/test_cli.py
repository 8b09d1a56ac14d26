"""The command line as a user runs it: a fresh process, real model, real embedded Chroma."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ARTICLE, ROOT

pytestmark = pytest.mark.integration


def run(
    *args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QINGSHAN_")}
    merged = {**clean, **(env or {})}
    # This checkout's `bot`, whichever checkout the environment was installed from (worktrees).
    merged["PYTHONPATH"] = os.pathsep.join(p for p in (merged.get("PYTHONPATH", ""), str(ROOT)) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=merged,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    (d / "corpus").mkdir()
    shutil.copy(ARTICLE, d / "corpus" / ARTICLE.name)
    return d


def test_help_is_fast_and_lists_commands(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    out = run("--help", cwd=tmp_path).stdout
    assert time.perf_counter() - t0 < 20  # generous: only guards against heavy imports at start
    for cmd in ("index", "search", "serve"):
        assert cmd in out
    probe = "import sys, bot.cli; print(sorted(m for m in ('torch','chromadb','gradio') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout.strip() == "[]"
    )


def test_search_builds_index_on_first_use_and_prints_json(workdir: Path) -> None:
    out = run("search", "青山区有多少家高新技术企业", "--k", "3", "--json", cwd=workdir).stdout
    row = json.loads(out)
    assert row["query"] == "青山区有多少家高新技术企业" and len(row["results"]) == 3
    first = row["results"][0]
    assert set(first) == {"rank", "chunk_id", "doc_id", "title", "text", "start", "end", "score"}
    assert "19家" in " ".join(r["text"] for r in row["results"])
    assert (workdir / "index" / "manifest.json").exists()
    again = run("index", "--json", cwd=workdir).stdout
    assert json.loads(again)["unchanged"] is True


def test_batch_search(workdir: Path) -> None:
    qfile = workdir / "q.jsonl"
    lines = [
        {"id": "a", "question": "北奔重汽和谁合作氢能", "type": "entity", "must": []},
        {"id": 7, "question": "What does the Baotou quality inspection centre do?"},
    ]
    qfile.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    out = run("search", "--questions", str(qfile), "--k", "2", "--json", cwd=workdir).stdout
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == ["a", 7]
    assert all(len(r["results"]) == 2 for r in rows)
    assert [r["rank"] for r in rows[0]["results"]] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "   "), "empty question"),
        (("search",), "give a question"),
        (("search", "x", "--k", "0"), "--k must be between 1 and 100"),
        (("search", "x", "--corpus", "nowhere", "--index", "nowhere-index"), "corpus folder not found"),
        (("search", "--questions", "missing.jsonl"), "questions file not found"),
        (("index", "--corpus", "empty"), "has no document that can be indexed"),
        (("search", "x", "--chroma-server", "nohostport"), "HOST:PORT"),
    ],
)
def test_bad_input_is_one_clear_line(workdir: Path, args: tuple[str, ...], message: str) -> None:
    (workdir / "empty").mkdir(exist_ok=True)
    proc = run(*args, cwd=workdir, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_jsonl_line_is_named(workdir: Path) -> None:
    (workdir / "bad.jsonl").write_text('{"id": 1, "question": "好"}\n{oops\n', encoding="utf-8")
    proc = run("search", "--questions", "bad.jsonl", cwd=workdir, check=False)
    assert proc.returncode == 2 and "bad.jsonl:2: invalid JSON" in proc.stderr


def test_bad_file_is_one_line_and_loses_nothing(workdir: Path) -> None:
    run("index", cwd=workdir)
    bad = workdir / "corpus" / "blob.txt"
    bad.write_bytes(bytes(range(256)) * 4)
    try:
        out = run("index", cwd=workdir).stdout.splitlines()
        assert out[0].startswith("index")
        assert out[1:] == [
            "skipped blob.txt: not text in any known encoding (UTF-8, GB18030, Big5, UTF-16); is it a binary file?"
        ]
    finally:
        bad.unlink()
    out = run("search", "北重集团", "--json", "--k", "1", cwd=workdir).stdout
    assert json.loads(out)["results"]


def test_documents_added_listed_and_removed(tmp_path: Path) -> None:
    from tests.support.documents import REPORT_PDF, make_docx

    (tmp_path / "corpus").mkdir()
    shutil.copy(ARTICLE, tmp_path / "corpus" / ARTICLE.name)
    docx = make_docx(tmp_path / "brief.docx")
    out = run("doc-add", str(REPORT_PDF), str(docx), cwd=tmp_path).stdout
    assert "added report.pdf (id report)" in out and "added brief.docx (id brief)" in out
    rows = {r["id"]: r for r in map(json.loads, run("doc-list", "--json", cwd=tmp_path).stdout.splitlines())}
    assert rows["report"]["format"] == "pdf" and rows["report"]["pages"] == 3 and rows["report"]["chunks"] == 3
    assert rows["brief"]["title"] == "远山大学工作简报" and rows["brief"]["status"] == "indexed"
    question = ("ask", "实验室的年度预算是多少？", "--mode", "extractive", "--json")
    answer = json.loads(run(*question, cwd=tmp_path).stdout)
    assert not answer["refused"]
    assert [c["page"] for c in answer["citations"] if "3200万元" in c["quote"]] == [3]
    assert "replaced report.pdf" in run("doc-add", str(REPORT_PDF), "--replace", cwd=tmp_path).stdout
    assert "removed report.pdf" in run("doc-remove", "report", cwd=tmp_path).stdout
    assert json.loads(run(*question, cwd=tmp_path).stdout)["refused"]
    assert "report" not in run("doc-list", cwd=tmp_path).stdout


def test_ask_json_shape_and_batch_with_history(workdir: Path) -> None:
    qfile = workdir / "ask.jsonl"
    lines = [
        {"id": "h1", "question": "青山区2021年有多少家高新技术企业？"},
        {
            "id": "h2",
            "question": "那科技型中小企业呢？",
            "history": [
                {"role": "user", "content": "青山区2021年有多少家高新技术企业？"},
                {"role": "assistant", "content": "19家。"},
            ],
        },
        {"id": "h3", "question": "青山区的常住人口有多少？"},
    ]
    qfile.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    out = run("ask", "--questions", str(qfile), "--mode", "extractive", "--json", cwd=workdir).stdout
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == ["h1", "h2", "h3"]
    keys = {"id", "question", "answer", "refused", "mode", "rewritten_question", "citations", "retrieved", "timings"}
    keys.add("notice")  # why an answer was degraded (the local model restarting), else null
    assert all(set(r) == keys for r in rows)
    first = rows[0]
    assert "19家" in first["answer"] and not first["refused"] and first["mode"] == "extractive"
    cite = first["citations"][0]
    assert set(cite) == {"n", "chunk_id", "doc_id", "title", "text", "quote", "start", "end", "page"}
    doc_text = first["retrieved"][0]["text"]
    assert cite["quote"] in cite["text"] and doc_text
    assert set(first["timings"]) == {"retrieve_ms", "first_token_ms", "total_ms"}
    assert "11家" in rows[1]["answer"] and rows[1]["rewritten_question"] != rows[1]["question"]
    assert rows[2]["refused"] and rows[2]["answer"].startswith("文中未提及")


def test_ask_bad_history_is_named(workdir: Path) -> None:
    (workdir / "badh.jsonl").write_text(
        json.dumps({"id": "x", "question": "好", "history": [{"role": "system", "content": "hi"}]}) + "\n",
        encoding="utf-8",
    )
    proc = run("ask", "--questions", "badh.jsonl", "--mode", "extractive", cwd=workdir, check=False)
    assert proc.returncode == 2 and "history[0] needs role user|assistant" in proc.stderr


def test_chat_is_multi_turn(workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGSHAN_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--mode", "extractive"],
        input="青山区2021年有多少家高新技术企业？\n那科技型中小企业呢？\n\n",
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("你> ")[1:3]
    assert "19家" in first and "11家" in second


# Every command, on a missing file, malformed input, a missing optional component or a server
# that is down: one line saying what is wrong and what to do, exit code 2, no traceback.
# {closed} is a port nothing listens on, {busy} one that another server holds.
EVERY_COMMAND = [
    (("index", "--corpus", "nowhere"), {}, "corpus folder not found"),
    (("doc-add", "missing.pdf", "--corpus", "empty"), {}, "file not found: missing.pdf"),
    (("doc-add", "q.jsonl", "--corpus", "empty"), {}, "refused q.jsonl: .jsonl files are not accepted"),
    (("doc-list", "--corpus", "nowhere"), {}, "corpus folder not found"),
    (("doc-remove", "nosuch", "--corpus", "empty"), {}, "no document with id 'nosuch'"),
    (("search", "x", "--chroma-server", "127.0.0.1:{closed}"), {}, "is not reachable"),
    (("config",), {"QINGSHAN_TOP_K": "0"}, "invalid setting top_k"),
    (("ask", "--questions", "bad.jsonl"), {}, "bad.jsonl:2: invalid JSON"),
    (("chat", "--corpus", "nowhere", "--index", "nowhere-index"), {}, "corpus folder not found"),
    (("eval", "--questions", "missing.jsonl"), {}, "questions file not found"),
    (("eval", "--compare", "empty", "empty"), {}, "no report.json in empty"),
    (("eval", "--compare", "nomode", "extractive"), {}, "is neither an eval folder nor a mode"),
    (("eval", "--compare", "extractive,nosuch=1", "extractive"), {}, "no setting 'nosuch'"),
    (("eval", "--compare", "extractive", "extractive"), {}, "give --questions"),
    (("eval", "--compare", "empty", "empty", "--metric", "bogus"), {}, "is not an overall metric"),
    (("eval", "--questions", "q.jsonl", "--max-drop", "0.1"), {}, "use it with --compare"),
    (("score", "--questions", "q.jsonl", "--answers", "missing.jsonl"), {}, "answers file not found"),
    (("score", "--questions", "q.jsonl", "--answers", "bad.jsonl"), {}, "bad.jsonl:2: invalid JSON"),
    (("score", "--questions", "q.jsonl", "--answers", "q.jsonl"), {}, "`answer` must be a string"),
    (("eval-retrieval", "--questions", "missing.jsonl"), {}, "questions file not found"),
    (("cmrc-convert", "bad.jsonl", "--out", "cmrc"), {}, "not a readable CMRC/SQuAD json file"),
    (("cmrc-sets", "bad.jsonl", "--out", "sets"), {}, "not a readable CMRC/SQuAD json file"),
    (("eval-suite", "--sets", "empty"), {}, "build the sets with `qingshan-bot cmrc-sets"),
    (("calibrate", "--sets", "empty"), {}, "build the sets with `qingshan-bot cmrc-sets"),
    (("judge-probe", "--sets", "empty"), {}, "build the sets with `qingshan-bot cmrc-sets"),
    (("judge-probe", "--sets", "empty", "--per-set", "5"), {}, "--per-set must be between"),
    (("feedback", "export", "--data", "empty", "--out", "x.jsonl"), {}, "no feedback database"),
    (("feedback", "export", "--db", "nosuch://x", "--out", "x.jsonl"), {}, "cannot be used"),
    (("feedback", "export", "--reviewed", "--data", "empty", "--out", "x.jsonl"), {}, "no feedback database"),
    (("serve", "--port", "{busy}"), {}, "another server is using it"),
    (("models", "prepare"), {"QINGSHAN_EMBEDDING_MODEL": "/nonexistent/model"}, "could not be loaded"),
    (("models", "pull"), {"QINGSHAN_CACHE_DIR": "afile"}, "set QINGSHAN_CACHE_DIR to a writable folder"),
    (("docs", "--out", "docs-out"), {"QINGSHAN_CHROMIUM": "/nonexistent/chromium"}, "apt-get install -y chromium"),
    (("docs", "--out", "docs-out"), {"PYTHONPATH": "{no_playwright}"}, "Playwright is not installed"),
    (("bench-retrieval", "--cmrc", "missing.json"), {}, "CMRC file not found"),
    (("bench-http", "--questions", "missing.jsonl"), {}, "questions file not found"),
    (("bench-docs", "--pages", "0"), {}, "--pages must be between 1 and 2000"),
    (("loadtest", "--url", "http://127.0.0.1:{closed}", "--questions", "q.jsonl"), {}, "start one with"),
    (("bench", "--questions", "missing.jsonl"), {}, "questions file not found"),
    (("bench-eval-page", "--questions", "0"), {}, "--questions and --runs must be at least 1"),
]


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A folder with bad inputs, a port nothing listens on and one that is taken."""
    d = tmp_path_factory.mktemp("broken")
    (d / "q.jsonl").write_text('{"id": 1, "question": "好"}\n', encoding="utf-8")
    (d / "bad.jsonl").write_text('{"id": 1, "question": "好"}\n{oops\n', encoding="utf-8")
    (d / "afile").write_text("not a folder", encoding="utf-8")
    (d / "empty").mkdir()
    # A `playwright` that cannot be imported, first on the path: Playwright missing.
    (d / "shadow" / "playwright").mkdir(parents=True)
    (d / "shadow" / "playwright" / "__init__.py").write_text("raise ImportError('no playwright here')\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    path = os.pathsep.join(p for p in (str(d / "shadow"), os.environ.get("PYTHONPATH", "")) if p)
    return {"dir": str(d), "closed": str(closed), "no_playwright": path}


def _fill(text: str, values: dict[str, str]) -> str:
    return text.format(**values) if "{" in text else text


@pytest.mark.parametrize(
    ("args", "env", "message"), EVERY_COMMAND, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None
)
def test_every_command_fails_in_one_line(
    broken: dict[str, str], args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        values = {**broken, "busy": str(busy.getsockname()[1])}
        proc = run(
            *(_fill(a, values) for a in args),
            cwd=Path(broken["dir"]),
            check=False,
            env={k: _fill(v, values) for k, v in env.items()},
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("qingshan-bot: error: "), proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_every_command_is_in_the_failure_table() -> None:
    from bot.cli import build_parser
    from bot.cli.reference import subcommands

    leaves = {name for name, p in subcommands(build_parser()) if p.get_default("func") is not None}
    tried = {" ".join(args) + " " for args, _, _ in EVERY_COMMAND}
    covered = {name for name in leaves if any(t.startswith(name + " ") for t in tried)}
    assert leaves == covered, leaves - covered


@pytest.mark.parametrize("how", [{"QINGSHAN_DEBUG": "1"}, {}])
def test_debug_shows_the_traceback(broken: dict[str, str], how: dict[str, str]) -> None:
    verbose = () if how else ("-v",)
    proc = run(
        "score",
        "--questions",
        "q.jsonl",
        "--answers",
        "missing.jsonl",
        *verbose,
        cwd=Path(broken["dir"]),
        check=False,
        env=how,
    )
    assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == "qingshan-bot: error: answers file not found: missing.jsonl"
