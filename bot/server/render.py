"""Answers as HTML for the chat page: escaped text, `[n]` markers, and footnotes that open the
cited passage with the quoted sentence highlighted.

Every piece of text (question, answer, title, passage) passes through `html.escape`, and each
message is a single HTML block with no blank line, so Gradio's Markdown renderer never parses
anything inside it: `<script>`, `[x](javascript:…)` and `**` all show as typed.
"""

from __future__ import annotations

import html
from typing import Any

from bot.core.text import MARKER

CSS = """
.qs-answer{line-height:1.7}
.qs-ref{color:#1f6f4a;font-weight:600;font-size:.8em;vertical-align:super;margin:0 1px}
.qs-refused{border-left:4px solid #c47f00;padding-left:10px;background:#fff8e6}
.qs-notice{font-size:13px;color:#8a5a00;background:#fff3d6;border-radius:6px;padding:4px 8px;margin-bottom:6px}
.qs-badge{display:inline-block;font-size:12px;font-weight:600;color:#8a5a00;background:#ffe8b3;
  border-radius:4px;padding:0 6px;margin-bottom:4px}
.qs-error{color:#b00020}
.qs-pending{opacity:.85}
.qs-cites{margin-top:8px;border-top:1px solid #ddd;padding-top:4px;font-size:.9em}
.qs-cite summary{cursor:pointer;color:#1f6f4a}
.qs-cite .qs-passage{margin:4px 0 8px 12px;padding:6px 10px;border-left:3px solid #2f7d5b;background:#f5faf7}
.qs-cite mark{background:#ffe066;padding:0 1px}
.qs-meta{font-size:12px;color:#666}
@media (max-width:600px){.qs-cite .qs-passage{margin-left:0}}
"""


def _text(s: str) -> str:
    return html.escape(s).replace("\r", "").replace("\n", "<br>")


def _with_markers(s: str) -> str:
    return MARKER.sub(r"<span class='qs-ref'>[\1]</span>", _text(s))


def render_user(text: str) -> str:
    return f"<div class='qs-user'>{_text(text)}</div>"


def render_pending(text: str) -> str:
    return f"<div class='qs-answer qs-pending'>{_with_markers(text) or '……'}</div>"


def render_error(message: str) -> str:
    return f"<div class='qs-error'>⚠️ {_text(message)}</div>"


def highlighted(passage: str, quote: str) -> str:
    at = passage.find(quote) if quote else -1
    if at < 0:
        return _text(passage)
    end = at + len(quote)
    return f"{_text(passage[:at])}<mark>{_text(quote)}</mark>{_text(passage[end:])}"


def render_citation(c: dict[str, Any]) -> str:
    where = f"第{int(c['page'])}页 · " if c.get("page") else ""
    meta = f"{_text(c['title'])} · {_text(c['doc_id'])} · {where}第 {c['start']}–{c['end']} 字"
    return (
        f"<details class='qs-cite' data-n='{int(c['n'])}'><summary>[{int(c['n'])}] {_text(c['quote'][:40])}"
        f"{'…' if len(c['quote']) > 40 else ''}</summary>"
        f"<div class='qs-passage'><div class='qs-meta'>{meta}</div>{highlighted(c['text'], c['quote'])}</div>"
        "</details>"
    )


def render_answer(answer: dict[str, Any]) -> str:
    """`answer` is the `ask --json` object."""
    refused = bool(answer["refused"])
    parts = [f"<div class='qs-answer{' qs-refused' if refused else ''}'>"]
    if refused:
        parts.append("<div class='qs-badge'>文中未提及</div><br>")
    if answer.get("notice"):
        parts.append(f"<div class='qs-notice'>{_text(answer['notice'])}</div>")
    parts.append(_with_markers(answer["answer"]))
    if answer["citations"]:
        parts.append("<div class='qs-cites'>")
        parts.extend(render_citation(c) for c in answer["citations"])
        parts.append("</div>")
    seconds = answer.get("timings", {}).get("total_ms", 0) / 1000
    parts.append(f"<div class='qs-meta'>模式：{_text(answer['mode'])} · {seconds:.1f} 秒</div></div>")
    return "".join(parts)
