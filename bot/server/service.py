"""What every server adapter (API, chat page, widget) shares: the answerer behind the generation
gate, readiness, and checked starter questions. Adapters stay thin: they translate, this decides.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.answering.answerer import Answerer
from bot.answering.types import Answer
from bot.core.errors import UserError
from bot.core.jsonl import Turn
from bot.core.settings import Settings
from bot.core.text import clean_question
from bot.ingest.chunking import headings
from bot.server.gate import GenerationGate

log = logging.getLogger(__name__)

# Starters drawn from headings when the profile lists none: a few, from different documents.
STARTERS_FROM_HEADINGS = 4


class AnswerService:
    def __init__(self, settings: Settings, answerer: Answerer | None = None) -> None:
        self.settings = settings
        self.answerer = answerer or Answerer(settings)
        self.gate = GenerationGate(settings.max_generations, settings.max_queue, settings.queue_timeout_s)
        self.ready = False
        self.error: str | None = None
        self.mode = "extractive"  # what `auto` resolved to, set by warm_up
        self.profile = settings.profile()
        self.starters: list[str] = []
        self.ready_in_s: float | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop following the index (tests; the process's end stops it too)."""
        self._stop.set()

    # -- start-up ------------------------------------------------------------------------------
    def warm_up(self, retry_every_s: float = 0.0) -> None:
        """Load index and model, prime the system prompt's cache, check the starter questions.

        With `retry_every_s`, problems the operator can fix while the server runs (the Chroma
        server not up yet, the index not built yet) are retried until they are fixed."""
        t0 = time.perf_counter()
        while True:
            try:
                self.mode = self.answerer.warm_up()
                self.starters = self._starters()
                break
            except UserError as exc:
                self.error = str(exc)
                log.error("warm-up failed: %s", exc)
                if retry_every_s <= 0:
                    return
                time.sleep(retry_every_s)
            except Exception as exc:  # a bug, not a condition that heals: reported by /readyz
                self.error = f"{exc.__class__.__name__}: {exc}"
                log.exception("warm-up failed")
                return
        self.error = None
        self.ready_in_s = time.perf_counter() - t0
        self.ready = True
        log.info("ready in %.1f s (mode %s, %d starters)", self.ready_in_s, self.mode, len(self.starters))

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._serve_index, name="warm-up", daemon=True).start()
        else:
            self.warm_up()

    def _serve_index(self) -> None:
        """Warm up, then follow the index: a version built meanwhile by `index`, `doc-add` or
        another replica is swapped in within `index_follow_s` (the indexer keeps only the newest
        two versions, so a server that never looked would lose its own)."""
        self.warm_up(3.0)
        every = self.settings.index_follow_s
        while every > 0 and self.ready and not self._stop.wait(every):
            try:
                self.refresh()
            except Exception as exc:  # a Chroma server away for a moment: the next look may work
                log.warning("could not look for a newer index: %s", exc)

    def unavailable(self) -> str | None:
        """Why the service cannot answer right now, or None. Asks a Chroma server each time."""
        if not self.ready:
            return self.error or "loading index and model"
        try:
            self.answerer.retriever.store.heartbeat()
        except UserError as exc:
            return str(exc)
        return None

    def degraded(self) -> str | None:
        """Why answers are extractive for now although the mode has a model (its worker is
        restarting), or None."""
        if not self.ready or self.mode == "extractive":
            return None
        try:
            return self.answerer.down(self.mode)
        except UserError as exc:
            return str(exc)

    def _starters(self) -> list[str]:
        """The profile's starter questions, then ones drawn from the headings of documents they
        do not cover (all documents when the profile lists none), so an added document shows
        up among them; either way only those the index answers with a citation."""
        out: list[str] = []
        covered: set[str] = set()
        for q in self.profile.starters:
            cited = self._cited(q)
            if cited:
                out.append(q)
                covered |= cited
        chunks = [c for c in self.answerer.retriever.chunks if c.doc_id not in covered]
        drawn = 0
        for heading in headings(chunks):
            question = f"文中关于“{heading}”说了什么？"
            if self._cited(question):
                out.append(question)
                drawn += 1
            if drawn == STARTERS_FROM_HEADINGS:
                break
        return out

    def _cited(self, question: str) -> set[str]:
        """The documents the extractive answer cites (the cheap check that the text answers)."""
        ans = self.answerer.answer(clean_question(question, self.settings.max_query_chars), mode="extractive")
        if ans.refused or not ans.citations:
            log.warning("starter question dropped, the corpus does not answer it: %s", question)
            return set()
        return {c.doc_id for c in ans.citations}

    def documents(self) -> list[dict[str, str]]:
        """The corpus overview: each document served, by id and title, in index order."""
        seen: dict[str, str] = {}
        for c in self.answerer.retriever.chunks:
            seen.setdefault(c.doc_id, c.title)
        return [{"id": k, "title": v} for k, v in seen.items()]

    def reindex(self, progress: Callable[[str, int, int], None] | None = None) -> Any:
        """Build the index from the corpus folder, then serve it (called off the request path)."""
        from bot.retrieval.indexer import build_index

        retriever = self.answerer.retriever
        report = build_index(self.settings, retriever.embedder, store=retriever.store, on_progress=progress)
        self.refresh()
        return report

    def refresh(self) -> bool:
        """Swap in the index's newest version if it is not the one served, and check the starter
        questions again: they follow the documents."""
        if not self.answerer.retriever.reload():
            return False
        self.starters = self._starters()
        self.answerer.picker.warm()
        log.info("serving index %s (%d starters)", self.answerer.retriever.version, len(self.starters))
        return True

    # -- answering -----------------------------------------------------------------------------
    def resolve(self, mode: str | None) -> str:
        """The mode that will answer, checked before anything streams: a mode this server cannot
        run is the caller's 4xx, not a broken stream. (The question was cleaned at the edge.)"""
        resolved = self.answerer.resolve_mode(mode)
        if resolved != "extractive":
            self.answerer.backend(resolved)
        return resolved

    @contextlib.contextmanager
    def slot(self, mode: str) -> Iterator[None]:
        if mode == "extractive":  # milliseconds of CPU: never queued behind the LLM
            yield
            return
        with self.gate.slot():
            yield

    def answer(self, question: str, history: list[Turn], mode: str) -> Answer:
        with self.slot(mode):
            return _logged(self.answerer.answer(question, history, mode))

    def stream(self, question: str, history: list[Turn], mode: str) -> HeldStream:
        """Takes a generation slot now (waiting in the bounded queue, or raising `Busy`), so an
        overloaded server answers 503 before any stream starts; the slot is freed on close."""
        stack = contextlib.ExitStack()
        stack.enter_context(self.slot(mode))
        return HeldStream(_logged_stream(self.answerer.stream(question, history, mode)), stack.close)


def _logged(item: Any) -> Any:
    """An answer the model could not give is the operator's business: the log says why."""
    if isinstance(item, Answer) and item.degraded:
        log.warning("answered extractively: %s", item.degraded)
    return item


def _logged_stream(inner: Iterator[str | Answer]) -> Iterator[str | Answer]:
    try:
        for item in inner:
            yield _logged(item)
    finally:
        close = getattr(inner, "close", None)
        if close is not None:
            close()


class HeldStream:
    """An answer stream that holds a resource until exhausted or closed (even if never started)."""

    def __init__(self, inner: Iterator[str | Answer], release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> HeldStream:
        return self

    def __next__(self) -> str | Answer:
        try:
            return next(self._inner)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            try:
                close = getattr(self._inner, "close", None)
                if close is not None:
                    close()
            finally:
                release()
