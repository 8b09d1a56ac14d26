"""What the tests share: paths, the hashing embedder (fakes), real servers on loopback (servers),
and the llama-cpp-python stand-in that crashes on purpose (standins)."""

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "corpus" / "qingshan-article.md"


@contextlib.contextmanager
def generation_slot_held(service: Any) -> Iterator[None]:
    """Holds the service's only generation slot in another thread for the block: LLM answers
    asked meanwhile find the server busy."""
    held, release = threading.Event(), threading.Event()

    def occupy() -> None:
        with service.gate.slot():
            held.set()
            release.wait(10)

    t = threading.Thread(target=occupy)
    t.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        t.join()
