"""Re-indexing in the background while the server answers. Questions asked meanwhile are
answered from the version being served; when the build has published its version, the
retriever opens it beside the old one and swaps it in with one assignment (`Retriever.reload`),
then the starter questions are checked again against the new documents.

Changes that arrive while a build runs are folded into one more build after it, never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.errors import IndexBusyError, UserError

log = logging.getLogger(__name__)

# Share of the bar each phase fills: reading and chunking is quick, embedding is most of the work.
_PHASES = {"queued": (0.0, 0.0), "reading": (0.0, 0.15), "embedding": (0.15, 0.9), "writing": (0.9, 0.97)}


@dataclass
class JobStatus:
    state: str = "idle"  # idle | running | done | failed
    phase: str = ""
    done: int = 0
    total: int = 0
    percent: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    report: list[str] = field(default_factory=list)  # the index report's lines, skipped files included
    error: str = ""
    version: str = ""
    runs: int = 0  # builds finished since start: a page knows its change has been folded in

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reindexer:
    busy_retries = 10  # waits while another process builds, then the status reports the error
    busy_wait_s = 3.0

    def __init__(self, service: Any) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None
        self.status = JobStatus()

    def request(self) -> JobStatus:
        """Schedule a build of the corpus folder as it is now; returns at once."""
        with self._lock:
            self._pending = True
            if self._thread is None:
                self.status = JobStatus("running", "queued", started_at=time.time(), runs=self.status.runs)
                self._thread = threading.Thread(target=self._run, name="reindex", daemon=True)
                self._thread.start()
            return self.status

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        crash = ""
        try:
            while self._next():
                self._build()
        except BaseException as exc:  # the state must not stay "running" forever
            log.exception("background re-index stopped")
            crash = f"the re-index stopped: {str(exc) or exc.__class__.__name__}"
        finally:
            self._release(crash)

    def _next(self) -> bool:
        """Take the pending change, or end the thread when there is none (under the lock: a
        request from then on starts a new thread)."""
        with self._lock:
            if not self._pending:
                self._thread = None
                return False
            self._pending = False
            self.status.state, self.status.error = "running", ""
            return True

    def _build(self) -> None:
        try:
            report = self._reindex()
            self._finish("done", report.summary().splitlines(), "", report.version)
        except Exception as exc:  # a UserError says what to do; anything else is logged
            if not isinstance(exc, UserError):
                log.exception("background re-index failed")
            self._finish("failed", [], str(exc) or exc.__class__.__name__, self.status.version)

    def _reindex(self) -> Any:
        """The build, waiting a little while another process (`index`, `doc-add`) holds the lock."""
        for attempt in range(self.busy_retries + 1):
            try:
                return self.service.reindex(self._progress)
            except IndexBusyError:
                if attempt == self.busy_retries:
                    raise
                log.info("the index is being built by another process; trying again in %ss", self.busy_wait_s)
                with self._lock:
                    self.status.phase = "waiting"
                time.sleep(self.busy_wait_s)
        raise AssertionError("unreachable")

    def _release(self, crash: str) -> None:
        """Whatever ended the thread, it no longer counts as running: a later request starts a
        build, and a crash is reported in the status."""
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None
            if crash:
                self.status.state, self.status.phase, self.status.error = "failed", "failed", crash
                self.status.finished_at = time.time()

    def _finish(self, state: str, report: list[str], error: str, version: str) -> None:
        with self._lock:
            if self._pending:  # another change came in meanwhile: the loop builds again
                self.status.report, self.status.error = report, error
                return
            self.status.state, self.status.report, self.status.error = state, report, error
            self.status.version = version
            self.status.percent = 100.0 if state == "done" else self.status.percent
            self.status.phase = state
            self.status.finished_at = time.time()
            self.status.runs += 1

    def _progress(self, phase: str, done: int, total: int) -> None:
        low, high = _PHASES.get(phase, (0.0, 1.0))
        share = done / total if total else 1.0
        with self._lock:
            self.status.phase, self.status.done, self.status.total = phase, done, total
            self.status.percent = round(100 * (low + (high - low) * share), 1)
