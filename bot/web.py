"""The chat page (Gradio 6), mounted at /chat/ by the server.

Every message is rendered by `render.py` as one escaped HTML block (so neither HTML nor
Markdown in questions, answers or corpus text is ever interpreted). History for the answerer is
kept as plain text in a State, apart from the rendered messages. Fonts are local: Gradio's
default theme would fetch Google Fonts, and the app makes no outbound request.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.answer_types import Answer
from bot.errors import UserError
from bot.feedback import FeedbackStore
from bot.gate import Busy
from bot.ratelimit import RateLimited, RateLimiter
from bot.render import CSS, render_answer, render_error, render_pending, render_user
from bot.service import AnswerService

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


def build_chat_page(
    service: AnswerService, feedback: FeedbackStore, limiter: RateLimiter, *, compact: bool = False
) -> Any:
    import gradio as gr

    def respond(
        message: str, shown: list[dict[str, Any]], turns: list[dict[str, str]], records: dict[int, Any], request: Any
    ):
        shown = list(shown or [])
        turns = list(turns or [])
        history = [_turn(t) for t in turns]
        shown.append({"role": "user", "content": render_user(message or "")})
        shown.append({"role": "assistant", "content": render_pending("")})
        yield shown, "", turns, records
        try:
            limiter.check(getattr(getattr(request, "client", None), "host", None) or "page")
            q, mode = service.prepare(message, history, None)
            text = ""
            final: Answer | None = None
            for item in service.stream(q, history, mode):
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

    def on_feedback(data: gr.LikeData, records: dict[int, Any]) -> None:
        index = data.index if isinstance(data.index, int) else data.index[0]
        rating = FEEDBACK.get(data.liked) if isinstance(data.liked, bool | str) else None
        rec = (records or {}).get(index) or (records or {}).get(str(index))  # type: ignore[call-overload]
        if rating is None or rec is None:
            return
        feedback.add(rating, rec["answer"], rec["history"])
        gr.Info("已记录反馈，谢谢！")

    # Gradio finds the event-data argument by its annotation, which must be the class itself
    # (this module's annotations are strings, and `gr` is imported lazily).
    on_feedback.__annotations__["data"] = gr.LikeData
    respond.__annotations__["request"] = gr.Request

    def answer_text(message: str, request: Any) -> str:
        """For gradio_client: one question in, the answer text (with [n] markers) out."""
        limiter.check(getattr(request.client, "host", None) or "page")
        q, mode = service.prepare(message, [], None)
        return service.answer(q, [], mode).text

    answer_text.__annotations__["request"] = gr.Request

    def starters() -> Any:
        return gr.Dataset(samples=[[q] for q in service.starters])

    with gr.Blocks(title="青山区科技创新问答 · qingshan-bot", fill_height=True) as page:
        if not compact:
            gr.Markdown(
                "## 青山区科技创新问答\n回答只依据收录的文章，每句话都标注出处；文章没有写的，会直说“文中未提及”。"
            )
        mode = gr.Markdown(elem_id="qs-mode")
        chat = gr.Chatbot(
            elem_id="qs-chat",
            height=None if compact else 520,
            latex_delimiters=[],
            feedback_options=("Like", "Dislike", "引用有误"),
            buttons=["copy"],
            placeholder="问问青山区的科技创新：企业、平台、项目、资金……",
            show_label=False,
        )
        turns = gr.State([])
        records = gr.State({})
        with gr.Row(equal_height=True):
            box = gr.Textbox(
                placeholder="输入问题，回车发送",
                show_label=False,
                max_lines=4,
                scale=5,
                elem_id="qs-input",
                autofocus=not compact,
            )
            send = gr.Button("发送", variant="primary", scale=1, min_width=70, elem_id="qs-send")
        examples = gr.Dataset(components=[box], samples=[], label="试试这些问题", elem_id="qs-starters")
        clear = gr.Button("新对话", size="sm", variant="secondary")

        io: dict[str, Any] = {"inputs": [box, chat, turns, records], "outputs": [chat, box, turns, records]}
        box.submit(respond, **io, api_visibility="private", concurrency_limit=None)
        send.click(respond, **io, api_visibility="private", concurrency_limit=None)
        examples.click(
            lambda row: row[0] if isinstance(row, list) else row, examples, box, api_visibility="private"
        ).then(respond, **io, api_visibility="private", concurrency_limit=None)
        clear.click(lambda: ([], "", [], {}), None, [chat, box, turns, records], api_visibility="private")
        chat.like(on_feedback, records, None, api_visibility="private")
        page.load(lambda: mode_line(service), None, mode, api_visibility="private")
        # The mode line follows a model restart without a reload.
        gr.Timer(5).tick(lambda: mode_line(service), None, mode, api_visibility="private", concurrency_limit=None)
        page.load(starters, None, examples, api_visibility="private")
        gr.api(answer_text, api_name="chat", concurrency_limit=None)
    return page


def _turn(t: dict[str, str]) -> Any:
    from bot.answer_types import Turn

    return Turn(t["role"], t["content"])


__all__ = ["CSS", "build_chat_page", "local_theme", "mode_line"]
