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

from bot.answer_types import Answer
from bot.answerer import MODES
from bot.api_schema import (
    AskRequest,
    ChatRequest,
    FeedbackRequest,
    check_strings,
    mode_for_model,
    split_chat,
    turns_from,
)
from bot.errors import UserError, error_body
from bot.feedback import FeedbackStore
from bot.ratelimit import RateLimiter
from bot.service import AnswerService

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


def build_router(service: AnswerService, feedback: FeedbackStore, limiter: RateLimiter) -> Any:
    """Two routers: `/api` + `/v1` for programs (behind the optional API key) and `/widget` for
    the widget's panel (public by nature: a page anyone can open; origin-checked, rate-limited)."""
    import hmac

    from fastapi import APIRouter, Depends
    from fastapi.responses import StreamingResponse
    from starlette.exceptions import HTTPException

    settings = service.settings

    def check_key(request: Request) -> None:
        if settings.api_key is None:
            return
        want = settings.api_key.get_secret_value()
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), want.encode()):
            raise HTTPException(401, "missing or wrong API key: send `Authorization: Bearer <key>`")

    def limit(request: Request) -> None:
        limiter.check(request.client.host if request.client else "unknown")

    api = APIRouter(dependencies=[Depends(check_key)])
    widget = APIRouter(tags=["widget"])

    def run_answer(question: str, turns: list[Any], mode: str | None) -> Answer:
        q, resolved = service.prepare(question, turns, mode)
        try:
            return service.answer(q, turns, resolved)
        except UserError as exc:
            raise ServiceError(str(exc)) from None

    def stream_events(req: AskRequest) -> Any:
        """SSE: `delta` events ({"text"}), then one `answer` event with the `ask --json` object."""
        turns = turns_from(req.history or [], settings)
        q, mode = service.prepare(req.question, turns, req.mode)
        items = service.stream(q, turns, mode)

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

    def store_feedback(req: FeedbackRequest) -> dict[str, Any]:
        body = req.model_dump()
        check_strings(body, "body")
        turns = body["history"] or []
        return {"stored": feedback.add(req.rating, body["answer"], turns)}

    @api.post("/api/ask", tags=["answers"], summary="Answer a question with citations", dependencies=[Depends(limit)])
    def ask(req: AskRequest) -> dict[str, Any]:
        """The same object as one line of `qingshan-bot ask --json`."""
        turns = turns_from(req.history or [], settings)
        return run_answer(req.question, turns, req.mode).as_dict()

    def starters() -> dict[str, list[str]]:
        return {"questions": service.starters}

    # The widget's routes are the API's own handlers on a second router: no API key (the page
    # is public), the same rate limit and the same origin checks.
    limited = [Depends(limit)]
    api.post("/api/ask/stream", tags=["answers"], summary="Answer as server-sent events", dependencies=limited)(
        stream_events
    )
    api.post("/api/feedback", tags=["answers"], summary="Rate an answer", dependencies=limited)(store_feedback)
    api.get("/api/starters", tags=["answers"], summary="Starter questions checked against the index")(starters)
    widget.post("/widget/ask", summary="The widget panel's stream (same as /api/ask/stream)", dependencies=limited)(
        stream_events
    )
    widget.post("/widget/feedback", summary="The widget panel's ratings", dependencies=limited)(store_feedback)
    widget.get("/widget/starters", summary="Starter questions for the widget panel")(starters)

    @api.get("/v1/models", tags=["openai"], summary="The answer modes, as OpenAI models")
    def models() -> dict[str, Any]:
        names = ["qingshan-bot"] + [f"qingshan-bot-{m}" for m in MODES]
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "qingshan-bot"} for n in names]}

    @api.post(
        "/v1/chat/completions",
        tags=["openai"],
        summary="OpenAI-compatible chat completions",
        dependencies=[Depends(limit)],
    )
    def chat_completions(req: ChatRequest) -> Any:
        """The last message is the question; earlier user/assistant messages are history; system
        messages are ignored. Adds a top-level `citations` array (same objects as `ask --json`)."""
        question, turns = split_chat(req, settings)
        mode_wanted = mode_for_model(req.model)
        if not req.stream:
            ans = run_answer(question, turns, mode_wanted)
            return _completion(ans)
        q, mode = service.prepare(question, turns, mode_wanted)
        items = service.stream(q, turns, mode)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        model = f"qingshan-bot-{mode}"

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return _sse(body)

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

    return api, widget


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
