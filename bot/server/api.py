"""The HTTP API: `/api/ask` (+ `/stream`) and OpenAI-compatible `/v1/chat/completions`.

A thin adapter over `AnswerService`: input is validated before any answer starts, so every bad
request is a 4xx JSON error and a stream, once started, only ever carries an answer or an
`error` event. Streams run the (synchronous) answerer in a worker thread and close it when the
client goes away, which releases its generation slot.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import Request  # at module level: FastAPI resolves the string annotations here

from bot.answering.answerer import MODES
from bot.answering.types import Answer
from bot.core.errors import UserError, error_body
from bot.evaluation.feedback import FeedbackStore
from bot.server.gate import Busy
from bot.server.identity import request_language
from bot.server.ratelimit import Admission
from bot.server.schema import (
    AskRequest,
    ChatRequest,
    FeedbackRequest,
    ask_input,
    check_strings,
    mode_for_model,
    split_chat,
)
from bot.server.service import AnswerService

log = logging.getLogger(__name__)
_END = object()
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _threaded(it: Iterator[Any]) -> AsyncIterator[Any]:
    import anyio

    def step() -> Any:
        return next(it, _END)

    try:
        while (item := await anyio.to_thread.run_sync(step)) is not _END:
            yield item
    finally:
        # Shielded: on a client disconnect this runs inside a cancelled scope.
        close = getattr(it, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)


def _failure(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, UserError):  # e.g. the index is missing: the message says which command fixes it
        return error_body(str(exc), "server_error", "unavailable")
    log.exception("answering failed")
    return error_body("the answer could not be completed; see the server log", "server_error", "internal")


class Endpoints:
    """The handlers of both routers, over one `AnswerService`."""

    def __init__(self, service: AnswerService, feedback: FeedbackStore, admission: Admission) -> None:
        self.service = service
        self.settings = service.settings
        self.feedback = feedback
        self.admission = admission

    def check_key(self, request: Request) -> None:
        import hmac

        from starlette.exceptions import HTTPException

        if self.settings.api_key is None:
            return
        want = self.settings.api_key.get_secret_value()
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), want.encode()):
            raise HTTPException(401, "missing or wrong API key: send `Authorization: Bearer <key>`")

    def admit(self, request: Request, question: str) -> Any:
        """Spends the client's budget for a valid question (the rate limit counts answers, not
        requests: a rejected request was counted by the error handler instead). Returns what
        gives the token back when no answer follows."""
        client = self.admission.client(request.client.host if request.client else None, request.headers)
        return self.admission.question(client, question)

    def run_answer(self, request: Request, question: str, turns: list[Any], mode: str | None) -> Answer:
        resolved = self.service.resolve(mode)
        refund = self.admit(request, question)
        try:
            return self.service.answer(question, turns, resolved)
        except UserError as exc:
            refund()
            raise ServiceError(str(exc)) from None
        except Busy:
            refund()
            raise

    def held_stream(self, request: Request, question: str, turns: list[Any], mode: str | None) -> Any:
        resolved = self.service.resolve(mode)
        refund = self.admit(request, question)
        try:
            return self.service.stream(question, turns, resolved), resolved
        except Busy:
            refund()
            raise

    def ask(self, req: AskRequest, request: Request) -> dict[str, Any]:
        """The same object as one line of `qingshan-bot ask --json`."""
        request.state.question = req.question  # the language of an error, should there be one
        question, turns = ask_input(req, self.settings)
        return self.run_answer(request, question, turns, req.mode).as_dict()

    def stream_events(self, req: AskRequest, request: Request) -> Any:
        """SSE: `delta` events ({"text"}), then one `answer` event with the `ask --json` object."""
        from fastapi.responses import StreamingResponse

        request.state.question = req.question
        question, turns = ask_input(req, self.settings)
        items, _ = self.held_stream(request, question, turns, req.mode)

        async def events() -> AsyncIterator[str]:
            try:
                async for item in _threaded(items):
                    if isinstance(item, Answer):
                        yield _sse(item.as_dict(), "answer")
                    else:
                        yield _sse({"text": item}, "delta")
            except Exception as exc:
                yield _sse(_failure(exc), "error")

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    def store_feedback(self, req: FeedbackRequest, request: Request) -> dict[str, Any]:
        body = req.model_dump()
        check_strings(body, "body")
        # Ratings are cheap: they spend the larger budget, never the answers'.
        client = self.admission.client(request.client.host if request.client else None, request.headers)
        self.admission.reject(client, request_language(req.answer.question, request.headers.get("accept-language")))
        turns = body["history"] or []
        return {"stored": self.feedback.add(req.rating, body["answer"], turns, body.get("comment"))}

    def starters(self) -> dict[str, Any]:
        """The checked starter questions, and the corpus profile's words for a panel's header."""
        p = self.service.profile
        return {
            "questions": self.service.starters,
            # The corpus overview: what the bot can answer about, following uploads and removals.
            "documents": [d["title"] for d in self.service.documents()] if self.service.ready else [],
            "title": p.short_title,
            "title_en": p.short_title_en,
            "hint": p.hint,
            "hint_en": p.hint_en,
        }

    def models(self) -> dict[str, Any]:
        names = ["qingshan-bot"] + [f"qingshan-bot-{m}" for m in MODES]
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "qingshan-bot"} for n in names]}

    def chat_completions(self, req: ChatRequest, request: Request) -> Any:
        """The last message is the question; earlier user/assistant messages are history; system
        messages are ignored. Adds a top-level `citations` array (same objects as `ask --json`)."""
        request.state.question = req.messages[-1].text()
        question, turns = split_chat(req, self.settings)
        mode_wanted = mode_for_model(req.model)
        if not req.stream:
            return _completion(self.run_answer(request, question, turns, mode_wanted))
        items, mode = self.held_stream(request, question, turns, mode_wanted)
        return _completion_stream(items, f"qingshan-bot-{mode}")


def build_router(service: AnswerService, feedback: FeedbackStore, admission: Admission) -> Any:
    """Two routers: `/api` + `/v1` for programs (behind the optional API key) and `/widget` for
    the widget's panel (public by nature: a page anyone can open; origin-checked, rate-limited).
    Every POST is rate-limited by its handler (answers) or the error handlers (rejections)."""
    from fastapi import APIRouter, Depends

    e = Endpoints(service, feedback, admission)
    api = APIRouter(dependencies=[Depends(e.check_key)])
    widget = APIRouter(tags=["widget"])
    answers: dict[str, Any] = {"tags": ["answers"]}
    api.post("/api/ask", **answers, summary="Answer a question with citations")(e.ask)
    api.post("/api/ask/stream", **answers, summary="Answer as server-sent events")(e.stream_events)
    api.post("/api/feedback", **answers, summary="Rate an answer")(e.store_feedback)
    api.get("/api/starters", **answers, summary="Starter questions checked against the index")(e.starters)
    api.get("/v1/models", tags=["openai"], summary="The answer modes, as OpenAI models")(e.models)
    api.post("/v1/chat/completions", tags=["openai"], summary="OpenAI-compatible chat completions")(e.chat_completions)
    # The widget's routes are the API's own handlers on a second router: no API key (the page
    # is public), the same rate limit and the same origin checks.
    widget.post("/widget/ask", summary="The widget panel's stream (same as /api/ask/stream)")(e.stream_events)
    widget.post("/widget/feedback", summary="The widget panel's ratings")(e.store_feedback)
    widget.get("/widget/starters", summary="Starter questions for the widget panel")(e.starters)
    return api, widget


def _completion_stream(items: Iterator[str | Answer], model: str) -> Any:
    """OpenAI `chat.completion.chunk` events; the last carries the citations."""
    from fastapi.responses import StreamingResponse

    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        return _sse({**body, "choices": [choice], **extra})

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for item in _threaded(items):
                if isinstance(item, Answer):
                    d = item.as_dict()
                    yield chunk({}, "stop", citations=d["citations"], refused=item.refused, mode=item.mode)
                else:
                    yield chunk({"content": item})
        except Exception as exc:
            yield _sse(_failure(exc))
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


class ServiceError(Exception):
    """The input was fine but the server cannot answer now (index missing, model broken)."""


def _sse(body: dict[str, Any], event: str | None = None) -> str:
    data = json.dumps(body, ensure_ascii=False)
    return f"event: {event}\ndata: {data}\n\n" if event else f"data: {data}\n\n"


def _completion(ans: Answer) -> dict[str, Any]:
    d = ans.as_dict()
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"qingshan-bot-{ans.mode}",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ans.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": d["citations"],
        "refused": ans.refused,
        "mode": ans.mode,
        "rewritten_question": ans.rewritten_question,
        "timings": d["timings"],
    }
