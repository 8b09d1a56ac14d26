"""The local model as a yes/no judge: P(its next token is 是 rather than 否) after a question
and a text, read from llama.cpp's logits (one prompt evaluation, no generation).

Built to measure whether the model can tell a text that states an answer from one that does
not (issue: a relevance signal that is calibrated, not guessed); `qingshan-bot judge-probe`
reports how well it separates and what it costs. The answering path does not use it (see
docs/answers.md for the figures and why).
"""

from __future__ import annotations

import math
from typing import Any

from bot.core.errors import UserError
from bot.core.settings import Settings

SYSTEM = "你是严谨的阅读理解助手。"
ASK = "上面的文本是否明确写出了这个问题的答案？只回答“是”或“否”。"


class YesNoJudge:
    def __init__(self, settings: Settings) -> None:
        from bot.models.llm import local_model_path

        path = local_model_path(settings)
        if not path.exists():
            raise UserError(f"local model not found at {path}; run `qingshan-bot models pull`")
        from llama_cpp import Llama

        self._llm: Any = Llama(
            model_path=str(path),
            n_ctx=settings.llm_ctx,
            n_threads=settings.llm_threads_batch,
            n_threads_batch=settings.llm_threads_batch,
            verbose=False,
        )
        self._yes = self._token("是")
        self._no = self._token("否")

    def _token(self, word: str) -> int:
        ids = self._llm.tokenize(word.encode(), add_bos=False, special=False)
        if len(ids) != 1:
            raise UserError(f"the local model's vocabulary splits {word!r}; it cannot be used as a yes/no judge")
        return int(ids[0])

    def prompt(self, question: str, text: str) -> str:
        # Qwen's chat format, written out: the logits of the assistant's first token are read.
        return (
            f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n文本：{text}\n\n问题：{question}\n\n"
            f"{ASK}<|im_end|>\n<|im_start|>assistant\n"
        )

    def probability(self, question: str, text: str) -> float:
        import llama_cpp
        import numpy as np

        tokens = self._llm.tokenize(self.prompt(question, text).encode(), add_bos=False, special=True)
        self._llm.reset()
        self._llm.eval(tokens[: self._llm.n_ctx() - 1])
        # With logits_all off, Llama.scores is not filled; the last position's logits are read directly.
        ptr = llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(self._llm.n_vocab(),))
        return 1.0 / (1.0 + math.exp(float(logits[self._no]) - float(logits[self._yes])))
