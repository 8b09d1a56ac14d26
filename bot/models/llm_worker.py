"""The local model in a supervised child process, so a crash of llama.cpp costs one answer, not
the server or the CLI.

A native build can die by a signal where Python cannot catch anything (a CPU that advertises
AMX but does not let the process use it segfaults in `ggml_backend_amx_mul_mat`; a model too big
for memory is killed). In-process, that takes the chat page, the widget and the API down with
it. Here the model lives in `python -m bot.models.llm_worker`, spoken to over its stdin/stdout in JSON
lines; `WorkerBackend` starts it, serialises generations, notices a death (EOF on the pipe) or a
stall, says which signal killed it, and restarts it with a doubling backoff. While it is down,
`stream` raises `ModelDown` at once, and the answerer answers extractively with a notice.

Protocol: parent -> child `{"op": "chat", "messages", "max_tokens"}`, `{"op": "count", "text"}`,
`{"op": "cancel"}`; child -> parent `{"ev": "ready"}` or `{"ev": "error", "message"}` (the model
cannot be loaded: a permanent error, not restarted), then per request `{"ev": "delta", "text"}`…
`{"ev": "done"}`, `{"ev": "count", "n"}` or `{"ev": "failed", "message"}`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import IO, Any

from bot.core.errors import ModelDown, UserError
from bot.core.settings import Settings

log = logging.getLogger(__name__)
Message = dict[str, str]
_EOF: dict[str, Any] = {"ev": "eof"}
_ALIVE: weakref.WeakSet[WorkerBackend] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for backend in list(_ALIVE):
        backend.close()


def describe_exit(returncode: int | None) -> str:
    """'SIGSEGV (signal 11)' for a death by signal, 'exit status 3' otherwise."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"{signal.Signals(-returncode).name} (signal {-returncode})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class WorkerBackend:
    """The `local` chat backend, run in a child process that is restarted when it dies."""

    name = "local"

    def __init__(self, settings: Settings, argv: list[str] | None = None) -> None:
        self.settings = settings
        self._argv = argv or [sys.executable, "-m", "bot.models.llm_worker"]
        self._generating = threading.Lock()  # one llama.cpp context: one generation at a time
        self._state = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._prime: list[Message] | None = None
        self.down: str | None = "starting"  # None when serving, else why not
        self.crashes = 0  # in a row; a finished generation resets it
        self.restarts = 0
        self._closed = False
        self._fatal: str | None = None
        _ALIVE.add(self)
        self._launch()
        if self._fatal:  # the model cannot be loaded (a crash, by contrast, is restarted)
            raise UserError(self._fatal)

    # -- the child -------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        from bot.models.llm import local_model_path

        s = self.settings
        env = dict(os.environ)
        env.update(
            QINGSHAN_LLM_MODEL_PATH=str(local_model_path(s)),
            QINGSHAN_LLM_CTX=str(s.llm_ctx),
            QINGSHAN_LLM_THREADS=str(s.llm_threads),
            QINGSHAN_LLM_THREADS_BATCH=str(s.llm_threads_batch),
            QINGSHAN_LLM_MMAP=str(s.llm_mmap).lower(),
            QINGSHAN_LLM_ISOLATION="inprocess",
        )
        return env

    def _launch(self) -> None:
        """Start a child and wait until it has loaded the model (and primed its prompt cache)."""
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=self._env(),
            start_new_session=True,  # a Ctrl-C in the terminal reaches the parent, which ends it
        )
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout, events), name="llm-worker-reader", daemon=True).start()
        first = _get(events, self.settings.llm_start_timeout_s)
        if first.get("ev") == "error":
            proc.wait(timeout=10)
            with self._state:
                self._proc, self.down = None, str(first.get("message"))
                self._fatal = self.down
            return
        if first.get("ev") != "ready":
            self._died(proc, "while loading the model")
            return
        with self._state:
            self._proc, self._events, self.down = proc, events, None
        log.info("local model worker %d ready", proc.pid)
        if self._prime:
            try:
                for _ in self.stream(self._prime, 1):
                    pass
            except ModelDown as exc:
                log.warning("priming the restarted worker failed: %s", exc)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self.down is None else None

    def prime(self, messages: list[Message]) -> None:
        """Evaluate `messages` now and after every restart, so their KV state (the fixed system
        prompt) is cached before a user waits on it."""
        self._prime = messages
        if self.down is None:
            for _ in self.stream(messages, 1):
                pass

    def _died(self, proc: subprocess.Popen[str], when: str) -> ModelDown:
        """Record a death, schedule the restart, and return the error to raise."""
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        with self._state:
            self.crashes += 1
            wait = min(
                self.settings.llm_restart_backoff_max_s, self.settings.llm_restart_backoff_s * 2 ** (self.crashes - 1)
            )
            how = describe_exit(code)
            self.down = f"the local model's worker process died {when} ({how}); restarting in {wait:g} s"
            self._proc = None
        # INFO: the server reports it in /readyz and on the page, the CLI in its one error line.
        log.info("%s", self.down)
        if not self._closed:
            threading.Thread(target=self._restart, args=(wait,), name="llm-worker-restart", daemon=True).start()
        return ModelDown(self.down)

    def _restart(self, wait: float) -> None:
        time.sleep(wait)
        if self._closed:
            return
        self.restarts += 1
        try:
            self._launch()
        except Exception:  # the restart thread must never die silently: the state says what failed
            log.exception("restarting the local model worker failed")
            with self._state:
                self.down = "the local model's worker could not be restarted; see the server log"

    def close(self) -> None:
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    # -- requests ------------------------------------------------------------------------------
    def _serving(self) -> tuple[subprocess.Popen[str], queue.Queue[dict[str, Any]]]:
        with self._state:
            if self.down is not None or self._proc is None:
                raise ModelDown(self.down or "the local model is not running")
            return self._proc, self._events

    def _send(self, proc: subprocess.Popen[str], request: dict[str, Any]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader sees EOF and reports the death

    def _next(self, proc: subprocess.Popen[str], events: queue.Queue[dict[str, Any]]) -> dict[str, Any]:
        try:
            ev = events.get(timeout=self.settings.llm_stall_timeout_s)
        except queue.Empty:
            proc.kill()  # stalled: a worker that says nothing for this long is not coming back
            events.get()  # its EOF
            raise self._died(proc, f"after {self.settings.llm_stall_timeout_s:g} s without output") from None
        if ev is _EOF:
            raise self._died(proc, "while answering")
        return ev

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        if not self._generating.acquire(timeout=self.settings.queue_timeout_s):
            raise ModelDown(f"the local model was busy for {self.settings.queue_timeout_s:g} s")
        try:
            proc, events = self._serving()
            self._send(proc, {"op": "chat", "messages": messages, "max_tokens": max_tokens})
            finished = False
            try:
                while True:
                    ev = self._next(proc, events)
                    if ev["ev"] == "delta":
                        yield ev["text"]
                    elif ev["ev"] == "done":
                        finished = True
                        self.crashes = 0
                        return
                    elif ev["ev"] == "failed":
                        finished = True
                        raise ModelDown(f"the local model failed: {ev.get('message')}")
            except ModelDown:
                finished = True
                raise
            finally:
                if not finished:  # the caller stopped reading: stop the model, keep the pipe in step
                    self._send(proc, {"op": "cancel"})
                    self._drain(proc, events)
        finally:
            self._generating.release()

    def _drain(self, proc: subprocess.Popen[str], events: queue.Queue[dict[str, Any]]) -> None:
        try:
            while self._next(proc, events)["ev"] not in ("done", "failed"):
                pass
        except ModelDown:
            pass

    def count_tokens(self, text: str) -> int:
        with self._generating:
            proc, events = self._serving()
            self._send(proc, {"op": "count", "text": text})
            ev = self._next(proc, events)
            return int(ev.get("n", 0))


def _pump(stream: IO[str], events: queue.Queue[dict[str, Any]]) -> None:
    """The child's stdout, line by line, into `events`; its end (the child died) as `_EOF`."""
    for line in stream:
        try:
            events.put(json.loads(line))
        except ValueError:
            log.warning("local model worker wrote a stray line: %.200s", line)
    events.put(_EOF)


def _get(events: queue.Queue[dict[str, Any]], timeout: float) -> dict[str, Any]:
    try:
        return events.get(timeout=timeout)
    except queue.Empty:
        return {"ev": "timeout"}


# -- the child's side ----------------------------------------------------------------------------
def _child() -> int:
    """Runs in the worker process. stdout is the protocol: anything native code prints there would
    corrupt it, so fd 1 is pointed at stderr and the protocol keeps a private copy."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def send(event: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
            out.flush()

    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    cancel = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            try:
                request = json.loads(line)
            except ValueError:
                continue
            if request.get("op") == "cancel":
                cancel.set()
            else:
                requests.put(request)
        os._exit(0)  # the parent is gone: nobody is left to answer

    # Reading starts before the model loads, so a parent that dies meanwhile ends this process.
    threading.Thread(target=read, name="requests", daemon=True).start()
    from bot.models.llm import LlamaCppBackend

    try:
        model = LlamaCppBackend(Settings())
    except UserError as exc:
        send({"ev": "error", "message": str(exc)})
        return 3
    send({"ev": "ready"})
    while (request := requests.get()) is not None:
        cancel.clear()
        try:
            if request["op"] == "count":
                send({"ev": "count", "n": model.count_tokens(request["text"])})
                continue
            for delta in model.stream(request["messages"], int(request["max_tokens"])):
                if cancel.is_set():
                    break
                send({"ev": "delta", "text": delta})
            send({"ev": "done"})
        except Exception as exc:  # a Python-level failure of one request; the worker lives on
            send({"ev": "failed", "message": f"{exc.__class__.__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    from bot.core.offline import enforce_offline

    enforce_offline()
    raise SystemExit(_child())


__all__ = ["WorkerBackend", "describe_exit"]
