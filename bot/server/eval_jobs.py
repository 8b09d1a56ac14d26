"""Evaluations started from the /eval/ page: one at a time, in a background thread, with
progress for the page's server-sent events and a cancel that stops before the next question.

The run is the same `run_eval` the CLI calls, writing into eval_runs_dir/web/<stamp>-<set>-<mode>,
so its result appears in the run list like any other. A cancelled run's folder is removed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from bot.core.errors import UserError

log = logging.getLogger(__name__)


class _Gated:
    """The service's answerer, with each answer taken through the service (its generation slot),
    so an evaluation never runs the local model beside a user's answer."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service.answerer, name)

    def answer(self, question: str, history: Any, mode: str) -> Any:
        return self._service.answer(question, history, mode)


class EvalJobs:
    def __init__(self, service: Any, runs_dir: Path) -> None:
        self.service = service
        self.runs_dir = runs_dir
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.state: dict[str, Any] = {"status": "idle"}

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, questions: list[dict[str, Any]], set_name: str, mode: str) -> dict[str, Any]:
        with self._lock:
            if self.busy():
                raise UserError("an evaluation is already running; wait for it or cancel it")
            folder = _new_folder(self.runs_dir / "web", f"{time.strftime('%Y%m%d-%H%M%S')}-{set_name}-{mode}")
            self._cancel.clear()
            self.state = {
                "status": "running",
                "set": set_name,
                "mode": mode,
                "done": 0,
                "total": len(questions),
                "folder": str(folder),
                "started": time.time(),
            }
            self._thread = threading.Thread(target=self._run, args=(questions, set_name, mode, folder), daemon=True)
            self._thread.start()
            return dict(self.state)

    def cancel(self) -> bool:
        if not self.busy():
            return False
        self._cancel.set()
        return True

    def _step(self, mode: str, done: int, total: int) -> None:
        self.state = {**self.state, "done": done, "total": total}

    def _run(self, questions: list[dict[str, Any]], set_name: str, mode: str, folder: Path) -> None:
        from bot.evaluation.runner import Cancelled, run_eval

        try:
            report = run_eval(
                _Gated(self.service),  # type: ignore[arg-type]
                questions,
                mode,
                folder,
                progress=False,
                meta={"questions": set_name, "limit": len(questions), "started_from": "/eval/"},
                hooks={"on_step": self._step, "cancel": self._cancel},
            )
            name = folder.relative_to(self.runs_dir).as_posix()
            self.state = {**self.state, "status": "done", "run": name, "accuracy": report.get("accuracy")}
        except Cancelled as exc:
            shutil.rmtree(folder, ignore_errors=True)
            self.state = {**self.state, "status": "cancelled", "message": str(exc)}
        except Exception as exc:
            log.exception("evaluation from the page failed")
            shutil.rmtree(folder, ignore_errors=True)
            self.state = {**self.state, "status": "failed", "message": str(exc)}


def _new_folder(parent: Path, name: str) -> Path:
    """A run folder no earlier run has: two runs in one second must not share one (a failed or
    cancelled run removes its folder, and would take the earlier run's with it)."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise UserError(f"too many runs named {name} in {parent}")
