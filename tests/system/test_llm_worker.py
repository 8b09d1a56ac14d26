"""The local model runs in a supervised worker process: a crash of the native library costs one
answer (completed extractively), never the server or the CLI, and the worker comes back.

The kills are real signals sent to the real worker running the real model. Two tests use a
stand-in for llama-cpp-python instead (tests/support/standins, which says why): a build that crashes
cannot be made on demand on a CPU whose builds work.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.answering.types import Answer
from tests.support import ARTICLE, ROOT

STANDINS = str(ROOT / "tests" / "support" / "standins")
FACT = "青山区2021年有多少家高新技术企业？"
LIST = "青山区重点建设的创新平台有哪些？"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGSHAN_")}
    env.update(extra)
    return env


# -- the setup's proof step -------------------------------------------------------------------
@pytest.mark.parametrize(("when", "sig"), [("load", "SIGSEGV"), ("generate", "SIGABRT")])
def test_the_proof_step_catches_a_build_that_crashes(tmp_path: Path, when: str, sig: str) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    out = tmp_path / "proof.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.models.llm_prove", str(gguf), "--out", str(out)],
        env=_env(PYTHONPATH=STANDINS, QINGSHAN_STANDIN_CRASH=when, QINGSHAN_STANDIN_SIGNAL=sig),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["ok"] is False and sig in result["why"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_setup_tries_the_next_build_when_one_fails_its_proof() -> None:
    """The order and the cache rules live in setup.sh; this keeps them from silently going."""
    script = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "python -m bot.models.llm_prove" in script
    assert "BUILDS=(native noamx portable)" in script and "-mno-amx-tile" in script
    assert "failed.json" in script and "proof.json" in script


# -- the CLI with a build that crashes ----------------------------------------------------------
@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("worker-cli")
    (d / "corpus").mkdir()
    shutil.copy(ARTICLE, d / "corpus" / ARTICLE.name)
    return d


def _ask(workdir: Path, mode: str) -> subprocess.CompletedProcess[str]:
    gguf = workdir / "model.gguf"
    gguf.write_bytes(b"GGUF")
    return subprocess.run(
        [sys.executable, "-m", "bot", "ask", FACT, "--mode", mode, "--json"],
        cwd=workdir,
        env=_env(PYTHONPATH=STANDINS, QINGSHAN_LLM_MODEL_PATH=str(gguf), QINGSHAN_LLM_RESTART_BACKOFF_S="30"),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.integration
def test_ask_local_with_a_crashing_build_is_one_line_and_exit_2(workdir: Path) -> None:
    proc = _ask(workdir, "local")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "SIGSEGV" in lines[0] and "setup.sh" in lines[0] and "--mode extractive" in lines[0]
    assert proc.stdout == ""


@pytest.mark.integration
def test_ask_auto_with_a_crashing_build_answers_extractively_with_a_notice(workdir: Path) -> None:
    proc = _ask(workdir, "auto")
    assert proc.returncode == 0, proc.stderr
    ans = json.loads(proc.stdout)
    assert "19" in ans["answer"] and ans["citations"] and ans["mode"] == "extractive"
    assert ans["notice"] and "本地模型" in ans["notice"]


# -- the real model, killed mid-answer -------------------------------------------------------------
class _KillMidAnswer:
    """Passes the worker's tokens through and kills the worker once `after` appears in them."""

    def __init__(self, inner: Any, sig: signal.Signals, after: str) -> None:
        self.inner, self.sig, self.after, self.name = inner, sig, after, inner.name
        self.armed = True

    @property
    def down(self) -> str | None:
        return str(self.inner.down) if self.inner.down else None

    def prime(self, messages: list[dict[str, str]]) -> None:
        self.inner.prime(messages)

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        text = ""
        for delta in self.inner.stream(messages, max_tokens):
            text += delta
            yield delta
            if self.armed and max_tokens > 1 and self.after in text:
                self.armed = False
                os.kill(self.inner.pid, self.sig)
                time.sleep(0.2)


def _wait_until_serving(backend: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while backend.down is not None:
        assert time.monotonic() < deadline, backend.down
        time.sleep(0.2)


@pytest.mark.integration
@pytest.mark.llm
@pytest.mark.parametrize(
    ("sig", "after"),
    [(signal.SIGSEGV, ""), (signal.SIGKILL, "、")],
    ids=["SIGSEGV-at-the-first-token", "SIGKILL-in-the-list"],
)
def test_a_worker_killed_mid_answer_completes_it_by_fallback_and_comes_back(
    real_retriever: Any, sig: signal.Signals, after: str
) -> None:
    from bot.answering.answerer import Answerer
    from bot.models.llm_worker import WorkerBackend

    settings = real_retriever.settings.model_copy(update={"llm_restart_backoff_s": 0.2})
    worker = WorkerBackend(settings)
    try:
        answerer = Answerer(settings, real_retriever, {"local": _KillMidAnswer(worker, sig, after)})
        assert answerer.warm_up("local") == "local"
        first_pid = worker.pid
        deltas, final = "", None
        for item in answerer.stream(LIST, mode="local"):
            if isinstance(item, Answer):
                final = item
            else:
                deltas += item
        assert final is not None and final.degraded and sig.name in final.degraded
        assert deltas == final.text, "what was streamed adds up to the answer"
        assert final.notice and not final.refused and final.citations
        assert all(c.quote in c.text for c in final.citations)

        _wait_until_serving(worker)
        assert worker.pid not in (None, first_pid) and worker.restarts >= 1
        again = answerer.answer(FACT, mode="local")
        assert again.mode == "local" and again.degraded is None and "19" in again.text
    finally:
        worker.close()


# -- the server, with the real model ------------------------------------------------------------
def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _worker_pid(server_pid: int) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server_pid and b"bot.models.llm_worker" in cmd:
            return int(stat.parent.name)
    return None


def _stream_and_kill(server: str, question: str, server_pid: int, sig: signal.Signals) -> dict[str, Any]:
    """POST a streamed question; at its first event, kill the worker; return the final answer."""
    req = urllib.request.Request(
        server + "/api/ask/stream",
        data=json.dumps({"question": question}).encode(),
        headers={"Content-Type": "application/json"},
    )
    final, killed = None, False
    with urllib.request.urlopen(req, timeout=300) as r:
        event = ""
        for raw in r:
            line = raw.decode().strip()
            if not killed:
                pid = _worker_pid(server_pid)
                assert pid, "the server runs its model in a worker process"
                os.kill(pid, sig)
                killed = True
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "answer":
                final = json.loads(line.split(":", 1)[1])
    assert final is not None
    return final


@pytest.mark.integration
@pytest.mark.llm
def test_the_server_stays_up_when_its_worker_dies_and_answers_by_fallback(tmp_path: Path) -> None:
    from bot.devtools.screenshots import ask_on_chat_page, bot_server, free_port, launch_chromium

    (tmp_path / "corpus").mkdir()
    shutil.copy(ARTICLE, tmp_path / "corpus" / ARTICLE.name)
    args = ["--mode", "local", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    procs: list[Any] = []
    env = {"QINGSHAN_DATA_DIR": str(tmp_path / "data"), "QINGSHAN_LLM_RESTART_BACKOFF_S": "10"}
    from playwright.sync_api import sync_playwright

    with bot_server(args, free_port(), procs=procs, env=env) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        page.goto(server + "/chat/")
        page.get_by_text("本地模型").first.wait_for()
        answer = ask_on_chat_page(page, FACT)
        assert "19" in answer.inner_text() and answer.locator("details.qs-cite").count() >= 1
        assert "模式：local" in answer.inner_text()

        server_pid = procs[0].pid
        final = _stream_and_kill(server, LIST, server_pid, signal.SIGSEGV)
        assert final["notice"] and final["citations"] and not final["refused"]
        status, ready = _get(server + "/readyz")
        assert status == 200 and ready["status"] == "degraded" and "SIGSEGV" in ready["reason"]
        assert _get(server + "/healthz") == (200, {"status": "ok"})
        page.get_by_text("本地模型正在重启").wait_for(timeout=15_000)  # the mode line follows by itself

        deadline = time.monotonic() + 120
        while _get(server + "/readyz")[1]["status"] != "ready":
            assert time.monotonic() < deadline, "the worker did not come back"
            time.sleep(0.5)
        req = urllib.request.Request(
            server + "/api/ask",
            data=json.dumps({"question": FACT}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=300) as r:
            again = json.loads(r.read())
        assert again["mode"] == "local" and again["notice"] is None and "19" in again["answer"]
        assert procs[0].poll() is None, "the server never went down"
        browser.close()
