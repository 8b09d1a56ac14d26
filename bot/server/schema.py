"""Request bodies of the HTTP API, and the checks that depend on settings (lengths, history).

Pydantic rejects wrong types and unknown roles; `turns_from` applies the size limits so a
request that is too big is refused with a message instead of being silently cut.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from bot.answering.answerer import MODES
from bot.core.errors import UserError
from bot.core.jsonl import Turn
from bot.core.settings import Settings
from bot.core.text import clean_question, reject_surrogates

Mode = Literal["auto", "local", "openai", "extractive"]


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant"] = Field(description="Only user and assistant turns are history.")
    content: StrictStr


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: StrictStr = Field(description="The question, in Chinese or English.", examples=["文中讲了什么？"])
    history: list[HistoryTurn] | None = Field(None, description="Earlier turns, oldest first.")
    mode: Mode | None = Field(None, description="Answer mode; default: the server's.")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # System/developer messages are accepted for compatibility and ignored: callers cannot
    # change the assistant's rules. Tool roles are not supported and refused.
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class ChatRequest(BaseModel):
    # OpenAI clients send temperature, top_p, user…: accepted and ignored.
    model_config = ConfigDict(extra="allow")
    model: StrictStr | None = Field(None, description="`qingshan-bot` or `qingshan-bot-<mode>`; others: default mode.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool | None = False


class CitationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    n: int
    chunk_id: StrictStr
    doc_id: StrictStr
    title: StrictStr
    text: StrictStr
    quote: StrictStr
    start: int
    end: int
    page: int | None = None


class RatedAnswer(BaseModel):
    """The rated answer as the API returned it (the `ask --json` object; extra fields ignored)."""

    model_config = ConfigDict(extra="ignore")
    question: StrictStr
    answer: StrictStr
    refused: StrictBool
    mode: StrictStr
    rewritten_question: StrictStr | None = None
    citations: list[CitationIn] = Field(default_factory=list, max_length=50)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    rating: Literal["up", "down", "wrong_citation"]
    answer: RatedAnswer
    history: list[HistoryTurn] | None = None
    comment: StrictStr | None = Field(
        None, max_length=2000, description="The user's own words on the answer; lands in the review queue."
    )


def check_strings(value: Any, where: str) -> None:
    """Unpaired surrogates anywhere in a request would fail later (UTF-8, SQLite): refuse them."""
    if isinstance(value, str):
        reject_surrogates(value, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_strings(v, f"{where}[{i}]")


def check_text(text: str, where: str, limit: int) -> None:
    if len(text) > limit:
        raise UserError(f"{where} is {len(text)} characters; the limit is {limit}")
    reject_surrogates(text, where)


def turns_from(items: list[Any], settings: Settings, where: str = "history") -> list[Turn]:
    if len(items) > settings.max_history_items:
        raise UserError(f"{where} has {len(items)} turns; the limit is {settings.max_history_items}")
    turns = []
    for i, item in enumerate(items):
        text = item.text() if isinstance(item, ChatMessage) else item.content
        check_text(text, f"{where}[{i}].content", settings.max_message_chars)
        turns.append(Turn(item.role, text))
    return turns


def ask_input(req: AskRequest, settings: Settings) -> tuple[str, list[Turn]]:
    """A request's question and history, cleaned and checked: all the answerer ever receives."""
    return clean_question(req.question, settings.max_query_chars), turns_from(req.history or [], settings)


def split_chat(req: ChatRequest, settings: Settings) -> tuple[str, list[Turn]]:
    """OpenAI messages -> (clean question, history): the last message is the question."""
    last = req.messages[-1]
    if last.role != "user":
        raise UserError(f"the last message must have role `user`, not `{last.role}`")
    earlier = [m for m in req.messages[:-1] if m.role in ("user", "assistant")]
    return clean_question(last.text(), settings.max_query_chars), turns_from(earlier, settings, "messages")


def mode_for_model(model: str | None) -> str | None:
    mode = (model or "").removeprefix("qingshan-bot-")
    return mode if mode != model and mode in MODES else None
