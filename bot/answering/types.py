"""What the answerer returns: one result type for every mode and every adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.retrieval.retriever import Passage

REFUSAL_ZH = "文中未提及"
MODEL_DOWN = {
    "zh": "本地模型暂时不可用（正在重启），这次用原文摘录回答。",
    "en": "The local model is restarting; this answer quotes the text directly.",
}


@dataclass(frozen=True)
class Citation:
    """Marker `[n]` in the answer text -> the passage and the exact sentence it quotes."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    text: str  # the whole passage
    quote: str  # the supporting sentence, verbatim from the document
    start: int  # offsets of `quote` in the cleaned document
    end: int
    page: int | None = None  # the PDF page that holds `quote`

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "text": self.text,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "page": self.page,
        }


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    refused: bool
    mode: str
    rewritten_question: str
    retrieved: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. why the LLM draft was replaced
    # Shown to the user beside the answer: e.g. that the local model is restarting, so this one
    # was answered extractively. `degraded` is the technical reason (what died), for logs and CLI.
    notice: str | None = None
    degraded: str | None = None

    def as_dict(self, item_id: Any = None) -> dict[str, Any]:
        return {
            "id": item_id,
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "rewritten_question": self.rewritten_question,
            "citations": [c.as_dict() for c in self.citations],
            "retrieved": [p.as_dict() for p in self.retrieved],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "notice": self.notice,
        }
