"""/eval/review: the review queue (bot/evaluation/review.py) as a page: each item's question,
answer with its citations (the chat page's rendering), rating, comment and time; a form to label
or dismiss it; its label history; and the export of labelled items as an eval set.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request`, imported lazily below.

from typing import Any

from bot.core.jsonl import dumps
from bot.server import eval_views as v

# Items a page shows: a busy widget can queue thousands, and one page of them all is slow to
# send and to read.
PAGE_SIZE = 50
RATING_NAMES = {"up": "👍 helpful", "down": "👎 not helpful", "wrong_citation": "⚑ wrong citation"}


def _item(item: dict[str, Any], replaced: dict[str, Any] | None) -> str:
    from bot.server.render import render_answer

    answer = {
        "answer": item["answer"],
        "refused": bool(item["refused"]),
        "mode": item["mode"],
        "citations": [c for c in item["citations"] if isinstance(c, dict) and "text" in c],
        "timings": {},
    }
    comment = f"<p class=comment>“{v.esc(item['comment'])}”</p>" if item.get("comment") else ""
    notice = ""
    if replaced is not None:
        notice = (
            f"<p role=status class=notice>Your label replaced the one {v.esc(replaced['reviewer'])} made at "
            f"{v.esc(v.when(replaced['ts']))}, after you opened the page; theirs is kept in the history.</p>"
        )
    history = "".join(
        f"<li><b>{v.esc(t.get('role'))}</b>: {v.esc(t.get('content'))}</li>" for t in item["history"] or []
    )
    return (
        f'<article class="item {v.esc(item["status"])}" id="item-{int(item["id"])}" data-id="{int(item["id"])}">'
        f"<header><b>{v.esc(RATING_NAMES.get(item['rating'], item['rating']))}</b> · {v.esc(v.when(item['ts']))} · "
        f"<span class=status>{v.esc(item['status'])}</span> · #{int(item['id'])}</header>{notice}"
        + (f"<ul class=muted>{history}</ul>" if history else "")
        + f"<p class=question>{v.esc(item['question'])}</p>{comment}"
        f"{render_answer(answer)}{v.label_history(item)}{v.label_form(item)}</article>"
    )


def _page_of(listed: list[dict[str, Any]], item: int, asked: int) -> int:
    """The page to show: after a label, the one that holds the labelled item; else the one
    asked for, kept between the first and the last."""
    at = next((n for n, i in enumerate(listed) if i["id"] == item), None)
    if at is not None:
        return at // PAGE_SIZE + 1
    return min(max(asked, 1), max(1, -(-len(listed) // PAGE_SIZE)))


def _pager(status: str, page: int, total: int) -> str:
    """The line "Items 51–100 of 230" with links to the newer and older pages; "" when one page holds all."""
    if total <= PAGE_SIZE:
        return ""
    first, last = (page - 1) * PAGE_SIZE + 1, min(page * PAGE_SIZE, total)
    newer = f'<a rel=prev href="{v.url("/eval/review", status=status, page=page - 1)}">← newer</a>' if page > 1 else ""
    older = (
        f'<a rel=next href="{v.url("/eval/review", status=status, page=page + 1)}">older →</a>' if last < total else ""
    )
    return f"<nav class=pager>{newer} Items {first}–{last} of {total} {older}</nav>"


def add_review_pages(app: Any, feedback: Any) -> None:
    from fastapi import Form, Request
    from fastapi.responses import RedirectResponse

    from bot.evaluation.review import add_label, history, queue
    from bot.server.eval_page import denied, html_response

    @app.get("/eval/review", include_in_schema=False)
    def review(request: Request, status: str = "open", replaced: int = 0, item: int = 0, page: int = 1) -> Any:
        if (refused := denied(request)) is not None:
            return refused
        items = queue(feedback)
        listed = [i for i in items if status == "all" or i["status"] == status]
        page = _page_of(listed, item, page)
        shown = listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        counts = {s: sum(i["status"] == s for i in items) for s in ("open", "labelled", "dismissed")}
        tabs = " · ".join(
            f'<a href="{v.url("/eval/review", status=s)}"{" class=on" if s == status else ""}>{s} ({n})</a>'
            for s, n in [*counts.items(), ("all", len(items))]
        )
        old = None
        if replaced and item:
            old = next((x for x in history(feedback, item).get(item, []) if x["id"] == replaced), None)
        body = (
            f'<p class=tabs>{tabs}</p><p><a href="/eval/review/export.jsonl" download>Export labelled items '
            f"({counts['labelled']})</a> as an eval set: <code>qingshan-bot eval --questions FILE</code> runs it.</p>"
            + "".join(_item(i, old if i["id"] == item else None) for i in shown)
            + ("" if shown else "<p class=muted>Nothing here.</p>")
            + _pager(status, page, len(listed))
        )
        return html_response(v.page("审核队列 · Review queue", body, "review"))

    @app.post("/eval/review/{feedback_id}", include_in_schema=False)
    def label(
        request: Request,
        feedback_id: int,
        action: str = Form("label"),
        expected: str = Form(""),
        should_refuse: str = Form(""),
        type: str = Form(""),
        reviewer: str = Form("admin"),
        seen: int = Form(0),
    ) -> Any:
        request.app.state.admin.require(request)
        mine = add_label(
            feedback,
            feedback_id,
            reviewer=reviewer,
            action=action,
            expected=expected,
            should_refuse=bool(should_refuse),
            qtype=type,
        )
        # A label another reviewer made after this one opened the page, now replaced: say so.
        between = [x for x in history(feedback, feedback_id).get(feedback_id, []) if seen < x["id"] < mine]
        where = f"/eval/review?status=all&item={feedback_id}"
        where += f"&replaced={between[-1]['id']}" if between else ""
        return RedirectResponse(f"{where}#item-{feedback_id}", status_code=303)

    _add_export(app, feedback)


def _add_export(app: Any, feedback: Any) -> None:
    from fastapi import Request
    from fastapi.responses import Response

    from bot.evaluation.review import reviewed_cases

    @app.get("/eval/review/export.jsonl", include_in_schema=False)
    def export(request: Request) -> Any:
        request.app.state.admin.require(request)
        body = "".join(dumps(case) + "\n" for case in reviewed_cases(feedback))
        headers = {"Content-Disposition": 'attachment; filename="reviewed.jsonl"'}
        return Response(body, media_type="application/jsonl; charset=utf-8", headers=headers)
