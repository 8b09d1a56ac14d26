"""The chat page (Gradio 6), mounted at /chat/ by the server.

Every message is rendered by `render.py` as one escaped HTML block (so neither HTML nor
Markdown in questions, answers or corpus text is ever interpreted). History for the answerer is
kept as plain text in a State, apart from the rendered messages. Fonts are local: Gradio's
default theme would fetch Google Fonts, and the app makes no outbound request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from bot.answering.types import Answer
from bot.core.errors import UserError
from bot.core.jsonl import Turn
from bot.core.profile import CorpusProfile
from bot.core.text import clean_question
from bot.evaluation.feedback import FeedbackStore
from bot.server.gate import Busy
from bot.server.identity import request_language
from bot.server.ratelimit import Admission, RateLimited
from bot.server.render import CSS, render_answer, render_error, render_pending, render_user
from bot.server.service import AnswerService

log = logging.getLogger(__name__)
MODE_NAMES = {"local": "本地模型", "openai": "OpenAI 兼容服务", "extractive": "摘录（无模型）"}
FEEDBACK = {True: "up", False: "down", "引用有误": "wrong_citation"}


def local_theme() -> Any:
    """Gradio's default theme with system fonts instead of Google Fonts."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="green",
        font=[gr.themes.Font("system-ui"), "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), "monospace"],
    )


def mode_line(service: AnswerService) -> str:
    if service.error:
        return f"⚠️ 服务未就绪：{service.error}"
    if not service.ready:
        return "正在加载索引和模型……"
    if down := service.degraded():
        return f"⚠️ 本地模型正在重启，回答暂用摘录模式（{down}）"
    name = MODE_NAMES.get(service.mode, service.mode)
    note = (
        "（未找到本地模型，已改用摘录模式）" if service.settings.mode == "auto" and service.mode == "extractive" else ""
    )
    return f"回答模式：**{name}**{note}"


def admitted(admission: Admission, request: Any, message: Any, limit: int) -> tuple[str, Callable[[], None]]:
    """The page's question, cleaned, and its spending: a question it refuses spends the client's
    rejected budget, one it answers the answers budget (the rate limit counts answers)."""
    client = getattr(request, "client", None)
    headers = getattr(request, "headers", None) or {}
    who = admission.client(getattr(client, "host", None), headers)
    try:
        q = clean_question(message, limit)
    except UserError:
        text = message if isinstance(message, str) else None
        admission.reject(who, request_language(text, headers.get("accept-language")))
        raise
    return q, admission.question(who, q)


def _responder(service: AnswerService, admission: Admission) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """The chat handler: streams verified text into the last bubble, then the cited answer."""

    def respond(
        message: str, shown: list[dict[str, Any]], turns: list[dict[str, str]], records: dict[int, Any], request: Any
    ) -> Iterator[tuple[Any, ...]]:
        shown = list(shown or [])
        turns = list(turns or [])
        history = [Turn(t["role"], t["content"]) for t in turns]
        shown.append({"role": "user", "content": render_user(message or "")})
        shown.append({"role": "assistant", "content": render_pending("")})
        yield shown, "", turns, records
        try:
            q, refund = admitted(admission, request, message, service.settings.max_query_chars)
            mode = service.resolve(None)
            text = ""
            final: Answer | None = None
            try:
                items = service.stream(q, history, mode)
            except Busy:
                refund()
                raise
            for item in items:
                if isinstance(item, Answer):
                    final = item
                else:
                    text += item
                    shown[-1] = {"role": "assistant", "content": render_pending(text)}
                    yield shown, "", turns, records
        except (UserError, Busy, RateLimited) as exc:
            shown[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield shown, message, turns, records  # the question stays in the box
            return
        except Exception:
            log.exception("chat answer failed")
            shown[-1] = {"role": "assistant", "content": render_error("回答失败，请稍后再试。")}
            yield shown, message, turns, records
            return
        assert final is not None
        record = final.as_dict()
        record.pop("retrieved")
        records = {**(records or {}), len(shown) - 1: {"answer": record, "history": turns}}
        turns = [*turns, {"role": "user", "content": q}, {"role": "assistant", "content": final.text}]
        shown[-1] = {"role": "assistant", "content": render_answer(record)}
        yield shown, "", turns, records

    return respond


def _feedback_handler(feedback: FeedbackStore) -> Callable[..., tuple[Any, Any]]:
    """Stores a rating; a thumbs down or a wrong citation then opens a box for the user's words,
    which `_comment_handler` adds to the same row (it goes to the review queue with it)."""
    import gradio as gr

    def on_feedback(data: Any, records: dict[int, Any]) -> tuple[Any, Any]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        rating = FEEDBACK.get(data.liked) if isinstance(data.liked, bool | str) else None
        rec = (records or {}).get(index) or (records or {}).get(str(index))  # type: ignore[call-overload]
        if rating is None or rec is None:
            return None, gr.Row(visible=False)
        stored = feedback.add(rating, rec["answer"], rec["history"])
        gr.Info("已记录反馈，谢谢！")
        return stored, gr.Row(visible=rating != "up")

    return on_feedback


def _comment_handler(feedback: FeedbackStore) -> Callable[..., tuple[Any, Any, Any]]:
    import gradio as gr

    def on_comment(text: str, stored: int | None) -> tuple[Any, Any, Any]:
        if stored and (text or "").strip():
            feedback.set_comment(int(stored), text)
            gr.Info("已记录说明，谢谢！")
        return None, gr.Row(visible=False), ""

    return on_comment


def _layout(profile: CorpusProfile, compact: bool) -> SimpleNamespace:
    """The page's components, inside the caller's gr.Blocks."""
    import gradio as gr

    if not compact:
        gr.Markdown(f"## {profile.title}\n{profile.intro}")
    ui = SimpleNamespace(mode=gr.Markdown(elem_id="qs-mode"))
    ui.chat = gr.Chatbot(
        elem_id="qs-chat",
        height=None if compact else 520,
        latex_delimiters=[],
        feedback_options=("Like", "Dislike", "引用有误"),
        buttons=["copy"],
        placeholder=profile.placeholder,
        show_label=False,
    )
    ui.turns = gr.State([])
    ui.records = gr.State({})
    ui.rated = gr.State(None)  # the id of the rating a comment would go with
    with gr.Row(visible=False, equal_height=True) as ui.comment_row:
        ui.comment = gr.Textbox(
            placeholder="哪里不对？写下正确的答案或说明（可选）",
            show_label=False,
            max_lines=3,
            max_length=2000,
            scale=5,
            elem_id="qs-comment",
        )
        ui.comment_send = gr.Button("提交说明", scale=1, min_width=70, elem_id="qs-comment-send")
    with gr.Row(equal_height=True):
        ui.box = gr.Textbox(
            placeholder="输入问题，回车发送",
            show_label=False,
            max_lines=4,
            scale=5,
            elem_id="qs-input",
            autofocus=not compact,
        )
        ui.send = gr.Button("发送", variant="primary", scale=1, min_width=70, elem_id="qs-send")
    ui.examples = gr.Dataset(components=[ui.box], samples=[], label="试试这些问题", elem_id="qs-starters")
    ui.clear = gr.Button("新对话", size="sm", variant="secondary")
    return ui


def build_chat_page(
    service: AnswerService, feedback: FeedbackStore, admission: Admission, *, compact: bool = False
) -> Any:
    import gradio as gr

    respond = _responder(service, admission)
    on_feedback = _feedback_handler(feedback)
    # Gradio finds the request and event-data arguments by their annotations, which must be the
    # classes themselves (this module's annotations are strings, and `gr` is imported lazily).
    respond.__annotations__["request"] = gr.Request
    on_feedback.__annotations__["data"] = gr.LikeData

    def answer_text(message: str, request: Any) -> str:
        """For gradio_client: one question in, the answer text (with [n] markers) out."""
        q, refund = admitted(admission, request, message, service.settings.max_query_chars)
        try:
            return service.answer(q, [], service.resolve(None)).text
        except Busy:
            refund()
            raise

    answer_text.__annotations__["request"] = gr.Request
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title=f"{service.profile.title} · qingshan-bot", fill_height=True) as page:
        ui = _layout(service.profile, compact)
        io: dict[str, Any] = {
            "inputs": [ui.box, ui.chat, ui.turns, ui.records],
            "outputs": [ui.chat, ui.box, ui.turns, ui.records],
        }
        ui.box.submit(respond, **io, **private, concurrency_limit=None)
        ui.send.click(respond, **io, **private, concurrency_limit=None)
        ui.examples.click(lambda row: row[0] if isinstance(row, list) else row, ui.examples, ui.box, **private).then(
            respond, **io, **private, concurrency_limit=None
        )
        ui.clear.click(lambda: ([], "", [], {}), None, [ui.chat, ui.box, ui.turns, ui.records], **private)
        ui.chat.like(on_feedback, ui.records, [ui.rated, ui.comment_row], **private)
        on_comment = _comment_handler(feedback)
        comment_io: dict[str, Any] = {
            "inputs": [ui.comment, ui.rated],
            "outputs": [ui.rated, ui.comment_row, ui.comment],
        }
        ui.comment_send.click(on_comment, **comment_io, **private)
        ui.comment.submit(on_comment, **comment_io, **private)
        page.load(lambda: mode_line(service), None, ui.mode, **private)
        # The mode line follows a model restart without a reload.
        gr.Timer(5).tick(lambda: mode_line(service), None, ui.mode, **private, concurrency_limit=None)
        page.load(lambda: gr.Dataset(samples=[[q] for q in service.starters]), None, ui.examples, **private)
        gr.api(answer_text, api_name="chat", concurrency_limit=None)
    return page


__all__ = ["CSS", "build_chat_page", "local_theme", "mode_line"]
