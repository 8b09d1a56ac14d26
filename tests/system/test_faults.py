"""Faults survived with real processes: `kill -9` during indexing, a Chroma server that goes
away and comes back under two `serve` processes sharing it, a server killed between feedback
writes, a damaged index, a damaged local model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.core.settings import Settings
from bot.devtools.screenshots import bot_server, free_port
from bot.retrieval.store import Store
from tests.support import ARTICLE

pytestmark = pytest.mark.integration
Q = "青山区2021年有多少家高新技术企业？"


def call(url: str, body: dict[str, Any] | None = None, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=600)
    assert not check or proc.returncode == 0, proc.stderr[-2000:]
    return proc


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).with_name("chroma"))
    argv = [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).close()
            return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "chroma run did not start"
            time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def feedback_body(n: int) -> dict[str, Any]:
    return {"rating": "up", "answer": {"question": f"问题{n}", "answer": f"回答{n}", "refused": False, "mode": "x"}}


def test_two_servers_share_a_chroma_server_that_goes_away_and_comes_back(corpus_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    chroma = start_chroma(tmp_path / "chroma", port)
    try:
        store = ["--corpus", str(corpus_dir), "--chroma-server", f"127.0.0.1:{port}"]
        cli("index", *store)
        args = [*store, "--mode", "extractive", "--data", str(tmp_path / "data")]
        with bot_server(args, free_port()) as one, bot_server(args, free_port()) as two:
            for server in (one, two):
                status, body = call(server + "/api/ask", {"question": Q})
                assert status == 200 and "19" in body["answer"]
            assert call(one + "/api/feedback", feedback_body(1))[0] == 200
            assert call(two + "/api/feedback", feedback_body(2))[0] == 200

            stop(chroma)
            status, body = call(one + "/readyz")
            assert status == 503 and "Chroma server" in body["reason"]
            t0 = time.monotonic()
            status, body = call(one + "/api/ask", {"question": "北奔重汽和谁合作？"})
            assert status == 503 and "chroma" in body["error"]["message"].lower()
            assert time.monotonic() - t0 < 30, "an outage must be answered, not waited out"
            assert call(two + "/healthz")[0] == 200

            chroma = start_chroma(tmp_path / "chroma", port)
            deadline = time.monotonic() + 60
            while call(one + "/readyz")[0] != 200:
                assert time.monotonic() < deadline, "did not recover by itself"
                time.sleep(0.5)
            for server in (one, two):
                status, body = call(server + "/api/ask", {"question": "北奔重汽和谁合作？"})
                assert status == 200 and "喜玛拉雅" in body["answer"], body
    finally:
        stop(chroma)
    out = tmp_path / "fb.jsonl"
    cli("feedback", "export", "--data", str(tmp_path / "data"), "--out", str(out))
    questions = {json.loads(x)["question"] for x in out.read_text(encoding="utf-8").splitlines()}
    assert questions == {"问题1", "问题2"}, "both servers write to the one feedback store"


def test_feedback_survives_a_killed_server(corpus_dir: Path, tmp_path: Path) -> None:
    args = ["--corpus", str(corpus_dir), "--index", str(tmp_path / "index"), "--mode", "extractive"]
    args += ["--data", str(tmp_path / "data")]
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with bot_server(args, port, procs=procs) as server:
        for n in range(5):
            assert call(server + "/api/feedback", feedback_body(n))[0] == 200
        os.killpg(procs[0].pid, signal.SIGKILL)  # between writes, with no warning
        procs[0].wait()
    with bot_server(args, port) as server:
        for n in range(5, 8):
            assert call(server + "/api/feedback", feedback_body(n))[0] == 200
    out = tmp_path / "fb.jsonl"
    cli("feedback", "export", "--data", str(tmp_path / "data"), "--out", str(out))
    got = [json.loads(x)["question"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert got == [f"问题{n}" for n in range(8)]


def add_extra_documents(corpus_dir: Path) -> None:
    """The article plus 150 extra documents: enough embedding work to kill the build mid-way."""
    text = ARTICLE.read_text(encoding="utf-8")
    sentences = [s + "。" for s in text.replace("\n", "").split("。") if len(s) > 20]
    for i in range(150):
        picked = [sentences[(i * 7 + j * 3) % len(sentences)] for j in range(5)]
        (corpus_dir / f"extra-{i:03d}.md").write_text(
            f"# 补充材料{i}\n\n编号{i}的补充材料。" + "".join(picked), encoding="utf-8"
        )


def test_kill_9_during_index_keeps_the_old_index_serving(corpus_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    cli("index", "--corpus", str(corpus_dir), "--index", str(index))
    settings = Settings(corpus_dir=corpus_dir, index_dir=index)
    before = Store(settings).state()
    assert before is not None
    add_extra_documents(corpus_dir)

    argv = [sys.executable, "-m", "bot", "index", "-v", "--corpus", str(corpus_dir), "--index", str(index)]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until it is embedding into a new version, then kill it hard
        if "embedding" in line and "new chunks" in line:
            break
    time.sleep(2.0)
    assert proc.poll() is None, "the build finished before it could be killed; make the corpus bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    # A fresh process (as a server would be) still opens and searches the previous version.
    probe = (
        "import sys, json; from bot.core.settings import Settings; from bot.retrieval.retriever import Retriever;"
        f"r = Retriever(Settings(corpus_dir=r'{corpus_dir}', index_dir=r'{index}'), auto_index=False);"
        "hits = r.search('高新技术企业', k=3); print(json.dumps([r.version, len(r.chunks), hits[0].chunk.doc_id]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    version, n_chunks, top = json.loads(out.stdout.strip().splitlines()[-1])
    assert version == before.collection and n_chunks == before.manifest["chunk_count"] and top == "qingshan-article"

    # The next build completes and serves everything.
    done = cli("index", "--corpus", str(corpus_dir), "--index", str(index), "--json")
    report = json.loads(done.stdout)
    assert report["documents"] == 151
    after = Store(settings).state()
    assert after is not None and after.collection != before.collection


def test_damaged_index_is_a_clear_error_and_rebuild_recovers(corpus_dir: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    cli("index", "--corpus", str(corpus_dir), "--index", str(index))
    db = index / "chroma" / "chroma.sqlite3"
    db.write_bytes(b"x" * 100 + db.read_bytes()[100:])
    bad = cli("ask", Q, "--mode", "extractive", "--corpus", str(corpus_dir), "--index", str(index), check=False)
    assert bad.returncode == 2 and "index --rebuild" in bad.stderr and "Traceback" not in bad.stderr
    cli("index", "--rebuild", "--corpus", str(corpus_dir), "--index", str(index))
    ok = cli("ask", Q, "--mode", "extractive", "--corpus", str(corpus_dir), "--index", str(index), "--json")
    assert "19" in json.loads(ok.stdout)["answer"]
    assert list(index.glob("chroma.broken-*")), "the damaged store is kept for inspection"


def test_damaged_local_model_auto_falls_back_to_extractive(real_retriever: Any, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from bot.answering.answerer import Answerer

    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 4096)
    s = real_retriever.settings.model_copy(update={"llm_model_path": gguf, "mode": "auto"})
    answerer = Answerer(s, real_retriever)
    assert answerer.resolve_mode() == "extractive"
    assert "models pull" in answerer.broken["local"]
    ans = answerer.answer(Q)
    assert ans.mode == "extractive" and "19" in ans.text
