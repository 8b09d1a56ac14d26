"""Bounded LLM generation: a fixed number of answers generate at once, a bounded number wait.

One llama.cpp model serves one generation at a time; an unbounded queue would turn a burst of
widget users into minutes of waiting and then timeouts. Past the queue, callers get `Busy` at
once (the HTTP layer answers 503 with Retry-After). Extractive answers never pass through here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Busy(Exception):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GenerationGate:
    def __init__(self, concurrent: int, queue: int, timeout_s: float) -> None:
        self._slots = threading.BoundedSemaphore(concurrent)
        self._limit = concurrent + queue
        self._timeout = timeout_s
        self._inside = 0  # generating + waiting
        self._lock = threading.Lock()

    @property
    def load(self) -> int:
        return self._inside

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._inside >= self._limit:
                raise Busy("the assistant is busy answering other questions; try again shortly", 5)
            self._inside += 1
        try:
            if not self._slots.acquire(timeout=self._timeout):
                raise Busy(f"no answer slot came free within {self._timeout:.0f} s; try again shortly", 10)
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._inside -= 1
