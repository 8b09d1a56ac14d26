"""A stand-in for llama-cpp-python that dies the way a bad native build does.

Why a stand-in: the failure under test is llama.cpp's native code killed by a signal (a CPU
that advertises AMX but does not grant it), which no build on a CPU without that fault can be
made to do on demand. Only the crash is faked; the processes, pipes, supervision and fallback
around it are the real ones. `QINGSHAN_STANDIN_CRASH` says when it dies (`load` or `generate`,
default `load`) and `QINGSHAN_STANDIN_SIGNAL` how (default SIGSEGV).
"""

from __future__ import annotations

import os
import signal
from typing import Any


def _die(when: str) -> None:
    if os.environ.get("QINGSHAN_STANDIN_CRASH", "load") == when:
        os.kill(os.getpid(), getattr(signal, os.environ.get("QINGSHAN_STANDIN_SIGNAL", "SIGSEGV")))


class Llama:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _die("load")

    def tokenize(self, text: bytes, add_bos: bool = True) -> list[int]:
        return list(range(len(text) // 3 + 1))

    def eval(self, tokens: list[int]) -> None:
        _die("generate")

    def reset(self) -> None:
        pass

    def create_chat_completion(self, **kwargs: Any) -> Any:
        _die("generate")
        yield {"choices": [{"delta": {"content": "x"}}]}

    def create_completion(self, *args: Any, **kwargs: Any) -> Any:
        _die("generate")
        return {"usage": {"completion_tokens": 1}}


def llama_print_system_info() -> bytes:
    return b"stand-in"
