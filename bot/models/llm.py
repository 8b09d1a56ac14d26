"""Chat backends behind one small interface: stream text for a list of chat messages.

- local: llama-cpp-python in-process; llama.cpp keeps the KV state of the last prompt and
  reuses its longest common prefix, so the fixed system prompt is evaluated once (time to first
  token is set by the rest of the prompt);
- openai: any OpenAI-compatible server through LangChain's chat-model integration;
- any other LangChain chat model (tests use langchain_core's scripted fake).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, cast

from bot.core.errors import UserError
from bot.core.settings import Settings

Message = dict[str, str]


class ChatBackend(Protocol):
    name: str

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]: ...


def local_model_path(settings: Settings) -> Path:
    from bot.models.gguf import model_path

    return settings.llm_model_path or model_path(settings.cache_dir)


def local_available(settings: Settings) -> bool:
    import importlib.util

    return local_model_path(settings).exists() and importlib.util.find_spec("llama_cpp") is not None


def local_backend(settings: Settings) -> ChatBackend:
    """The `local` mode's backend: in a supervised worker process unless settings say in-process."""
    path = local_model_path(settings)
    if not path.exists():
        raise UserError(f"local model not found at {path}; run `qingshan-bot models pull`")
    if settings.llm_isolation == "inprocess":
        return LlamaCppBackend(settings)
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise UserError("llama-cpp-python is not installed; run `bash scripts/setup.sh` (it compiles it once)")
    from bot.models.llm_worker import WorkerBackend

    return WorkerBackend(settings)


class LlamaCppBackend:
    """One model per process; generations are serialised (llama.cpp contexts are not reentrant)."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        path = local_model_path(settings)
        if not path.exists():
            raise UserError(f"local model not found at {path}; run `qingshan-bot models pull`")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise UserError(
                "llama-cpp-python is not installed; run `bash scripts/setup.sh` (it compiles it once)"
            ) from None
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=settings.llm_ctx,
                n_threads=settings.llm_threads,
                n_threads_batch=settings.llm_threads_batch,
                use_mmap=settings.llm_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise UserError(
                f"the local model at {path} could not be loaded ({exc}); run `qingshan-bot models pull` to restore it"
            ) from None
        # No LlamaRAMCache: each state it saves holds the whole logits array (n_ctx x 152k vocab
        # floats, ~1.2 GB), which took the bench's peak RSS to 9 GB while time to first token was
        # no better than llama.cpp's own prefix reuse (measured: 4.6 s vs 5.2 s p50, 2.8 vs 4.6 GB).
        self._lock = threading.Lock()

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:
            chunks: Any = self._llm.create_chat_completion(
                messages=cast(Any, messages), max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for chunk in chunks:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode(), add_bos=False))


class LangChainBackend:
    """Wraps any LangChain chat model (ChatOpenAI for the openai mode, fakes in tests)."""

    def __init__(self, model: Any, name: str = "openai") -> None:
        self.model = model
        self.name = name

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        lc = [kinds[m["role"]](content=m["content"]) for m in messages]
        for chunk in self.model.stream(lc):
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                yield text


def openai_backend(settings: Settings) -> LangChainBackend:
    if not settings.openai_base_url:
        raise UserError("the openai mode needs QINGSHAN_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise UserError("langchain-openai is not installed; run `bash scripts/setup.sh`") from None
    model = ChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        model=settings.openai_model,
        temperature=0.0,
        max_completion_tokens=settings.max_answer_tokens,
        timeout=settings.openai_timeout_s,
        max_retries=1,
    )
    return LangChainBackend(model, "openai")
