"""The background re-indexer's state machine with a stand-in service: whatever ends a build,
the status leaves "running" and a later request builds again; while another process holds the
index's build lock it waits and tries again, a bounded number of times."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.errors import IndexBusyError
from bot.server.reindex import Reindexer


class Service:
    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    def reindex(self, progress: Callable[[str, int, int], None] | None = None) -> Any:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return SimpleNamespace(version=f"v{self.calls}", summary=lambda: "indexed 1 file")


class Stop(BaseException):
    """Not an Exception: as a KeyboardInterrupt or SystemExit inside the thread would be."""


def _run(reindexer: Reindexer) -> dict[str, Any]:
    reindexer.request()
    reindexer.wait(10)
    return reindexer.status.as_dict()


def test_a_build_killed_by_a_base_exception_is_reported_and_the_next_request_builds() -> None:
    service = Service(Stop("worker gone"))
    reindexer = Reindexer(service)
    status = _run(reindexer)
    assert status["state"] == "failed" and "worker gone" in status["error"], status
    status = _run(reindexer)  # a thread left behind would swallow this request
    assert service.calls == 2 and status["state"] == "done" and status["version"] == "v2", status
    assert not status["error"]


def test_a_held_build_lock_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Reindexer, "busy_wait_s", 0.01)
    service = Service(IndexBusyError("another index is running"), IndexBusyError("another index is running"))
    status = _run(Reindexer(service))
    assert service.calls == 3 and status["state"] == "done" and status["version"] == "v3", status


def test_a_lock_held_for_too_long_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Reindexer, "busy_wait_s", 0.01)
    monkeypatch.setattr(Reindexer, "busy_retries", 2)
    service = Service(*[IndexBusyError("another `qingshan-bot index` is running")] * 5)
    status = _run(Reindexer(service))
    assert service.calls == 3, service.calls  # the first try and two more
    assert status["state"] == "failed" and "another `qingshan-bot index` is running" in status["error"], status
