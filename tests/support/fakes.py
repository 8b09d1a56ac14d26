"""A deterministic stand-in for the embedding model, for tests of one unit (store, indexer).

Vectors are hashed character bigrams, so similar texts still land near each other; it counts
calls so tests can assert what was (re-)embedded. Integration tests use the real model.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from bot.core.settings import Settings
from bot.models.llm import LangChainBackend

DIM = 64


class FakeEmbedder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model_id = settings.embedding_model
        self.embedded: list[str] = []
        self.fail_after: int | None = None

    @property
    def dimension(self) -> int:
        return DIM

    def encode(self, texts: list[str], *, is_query: bool, progress: bool = False) -> np.ndarray:
        if not is_query:
            if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
                raise RuntimeError("simulated crash while embedding")
            self.embedded.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in itertools.pairwise(text):
                h = int.from_bytes(hashlib.md5((a + b).encode()).digest()[:4], "little")
                out[row, h % DIM] += 1.0
            out[row, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class CountingBackend(LangChainBackend):
    """A scripted chat model (langchain_core's GenericFakeChatModel) that records its prompts."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(GenericFakeChatModel(messages=iter([AIMessage(content=r) for r in replies])), "local")
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        self.prompts.append(messages)
        yield from super().stream(messages, max_tokens)
