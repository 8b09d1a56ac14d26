"""One system of `qingshan-bot bench`, in its own process so its peak memory is its own:
`python -m bot.devtools.bench_worker peer|local|extractive QUESTIONS.jsonl OUT.json`.

Writes the answers (the `ask --json` shape, the peer's included), the mean prompt tokens, the
time to load, and the process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.core.jsonl import Turn
from bot.core.settings import Settings
from bot.core.text import clean_question


class _TokenCounter:
    """Wraps a chat backend and counts the tokens of every prompt it is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.counts: list[int] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        yield from self.inner.stream(messages, max_tokens)
        # Counted after the answer, so a count that crosses a process does not add to its time.
        self.counts.append(sum(self.inner.count_tokens(m["content"]) for m in messages))

    def __getattr__(self, name: str) -> Any:  # down, prime: the worker's own
        return getattr(self.inner, name)


_SELF_AND_CHILDREN = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def _history(item: dict[str, Any]) -> list[Turn]:
    return [Turn(t["role"], t["content"]) for t in item.get("history") or []]


def run_peer(items: list[dict[str, Any]], settings: Settings, work: Path) -> tuple[list[dict[str, Any]], list[int]]:
    from bot.devtools.bench_peer import TutorialRAG, says_dont_know

    peer = TutorialRAG(settings, work)
    list(peer.stream("你好", [], max_tokens=1))  # the same warm-up courtesy as ours
    rows, tokens = [], []
    for item in items:
        t0 = time.perf_counter()
        first: float | None = None
        text = ""
        for delta in peer.stream(item["question"], _history(item)):
            first = first if first is not None else (time.perf_counter() - t0) * 1000
            text += delta
        total = (time.perf_counter() - t0) * 1000
        tokens.append(peer.last_prompt_tokens)
        rows.append(
            {
                "id": item["id"],
                "question": item["question"],
                "answer": text.strip(),
                "refused": says_dont_know(text),
                "mode": "peer",
                "rewritten_question": item["question"],
                "citations": [],
                "retrieved": [],
                "timings": {"first_token_ms": first if first is not None else total, "total_ms": total},
            }
        )
    return rows, tokens


def run_ours(items: list[dict[str, Any]], settings: Settings, mode: str) -> tuple[list[dict[str, Any]], list[int]]:
    from bot.answering.answerer import Answerer

    answerer = Answerer(settings)
    answerer.warm_up(mode)
    backend = answerer.backend(mode) if mode != "extractive" else None
    counter = None
    if mode != "extractive":
        counter = _TokenCounter(answerer.backend(mode))
        answerer._backends[mode] = counter
    rows = []
    for item in items:
        question = clean_question(item["question"], answerer.settings.max_query_chars)
        rows.append(answerer.answer(question, _history(item), mode).as_dict(item["id"]))
    close = getattr(backend, "close", None)
    if close is not None:
        close()  # a worker process is waited for, so its peak memory is counted below
    return rows, counter.counts if counter else []


def main(argv: list[str]) -> int:
    system, questions, out = argv[0], Path(argv[1]), Path(argv[2])
    items = [json.loads(x) for x in questions.read_text(encoding="utf-8").splitlines() if x.strip()]
    settings = Settings()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qs-bench-") as tmp:
        if system == "peer":
            rows, tokens = run_peer(items, settings, Path(tmp))
        elif system == "local_inprocess":  # the same model without the worker process, for its cost
            rows, tokens = run_ours(items, settings.model_copy(update={"llm_isolation": "inprocess"}), "local")
        else:
            rows, tokens = run_ours(items, settings, system)
    report = {
        "system": system,
        "rows": rows,
        "prompt_tokens_mean": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
        "seconds": round(time.perf_counter() - t0, 1),
        # This process and its largest child (the model's worker) together.
        "peak_rss_mib": round(sum(resource.getrusage(w).ru_maxrss for w in _SELF_AND_CHILDREN) / 1024, 1),
    }
    out.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    from bot.core.offline import enforce_offline

    enforce_offline()
    sys.exit(main(sys.argv[1:]))
