"""The Gradio page: a search box over the retrieved passages (the answer page builds on it).

All text from documents is HTML-escaped before display; fonts are local (Gradio's default
theme would fetch Google Fonts, and the app makes no outbound request).
"""

from __future__ import annotations

import html
from typing import Any

STARTERS = [
    "青山区2021年有多少家高新技术企业？",
    "包头装备园区科创中心是和谁合作建设的？",
    "北奔重汽在氢能方面和哪家公司合作？",
    "Which research institute is Beizhong Group working with on a national key laboratory?",
]


def render_passages(passages: list[Any]) -> str:
    if not passages:
        return "<p>没有找到相关段落。</p>"
    parts = []
    for p in passages:
        c = p.chunk
        parts.append(
            "<div class='qs-passage'>"
            f"<div class='qs-meta'>[{p.rank}] {html.escape(c.title)} · {html.escape(c.doc_id)}"
            f" · 字符 {c.start}–{c.end} · 得分 {p.score:.4f}</div>"
            f"<div class='qs-text'>{html.escape(c.text)}</div></div>"
        )
    return "\n".join(parts)


CSS = (
    ".qs-passage{border-left:3px solid #2f7d5b;padding:4px 10px;margin:10px 0}"
    ".qs-meta{font-size:12px;color:#666}.qs-error{color:#b00020}"
)


def local_theme() -> Any:
    """Gradio's default theme with system fonts instead of Google Fonts."""
    import gradio as gr

    return gr.themes.Default(
        font=[gr.themes.Font("system-ui"), "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), "monospace"],
    )


def build_search_page(retriever: Any) -> Any:
    import gradio as gr

    from bot.errors import UserError

    def search(query: str) -> str:
        try:
            return render_passages(retriever.search(query or ""))
        except UserError as exc:
            return f"<p class='qs-error'>{html.escape(str(exc))}</p>"

    with gr.Blocks(title="青山区科技创新问答 · qingshan-bot") as page:
        gr.Markdown("## 青山区科技创新问答\n检索文章中与问题最相关的段落（回答与引用功能即将上线）。")
        box = gr.Textbox(label="问题", placeholder="例如：青山区有多少家高新技术企业？", max_length=2000)
        out = gr.HTML()
        gr.Examples(STARTERS, inputs=box)
        box.submit(search, box, out, api_name="search")
        gr.Button("检索", variant="primary").click(search, box, out)
    return page
