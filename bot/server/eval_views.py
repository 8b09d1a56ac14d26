"""HTML of the /eval/ pages. Every string that came from a user, a question set, a model or a
document goes through `esc` (html.escape) or `render_answer` (the chat page's rendering, which
escapes too); the pages carry a CSP without inline script as a second fence.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import urlencode

from bot.evaluation.compare import type_headline
from bot.evaluation.review import TYPES
from bot.evaluation.runs import Run
from bot.server.render import CSS as ANSWER_CSS

HEADLINE = (
    ("accuracy", "accuracy"),
    ("refusal_accuracy", "refusal"),
    ("false_refusal_rate", "false refusal"),
    ("citation_support", "citation support"),
    ("faithfulness", "faithfulness"),
    ("latency_ms_p50", "latency p50 (ms)"),
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and abs(v) <= 1 else esc(v)


def url(path: str, **params: Any) -> str:
    return esc(path + ("?" + urlencode({k: v for k, v in params.items() if v not in (None, "")}) if params else ""))


def page(title: str, body: str, active: str = "") -> str:
    nav = "".join(
        f'<a href="{href}"{" class=on" if key == active else ""}>{label}</a>'
        for key, href, label in (
            ("runs", "/eval/", "运行 · Runs"),
            ("review", "/eval/review", "审核队列 · Review queue"),
            ("admin", "/admin/", "管理 · Admin"),
        )
    )
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        '<link rel="stylesheet" href="/eval/static/eval.css"></head><body>'
        f"<nav>{nav}</nav><main><h1>{esc(title)}</h1>{body}</main>"
        '<script src="/eval/static/eval.js" defer></script></body></html>'
    )


def stylesheet(own: str) -> str:
    """The page's CSS and the chat page's answer CSS, served as one file (no inline style)."""
    return own + ANSWER_CSS


def runs_table(runs: list[Run]) -> str:
    head = "".join(f"<th>{esc(label)}</th>" for _, label in HEADLINE)
    rows = []
    for r in reversed(runs):
        figures = "".join(f"<td>{fmt(r.headline(k))}</td>" for k, _ in HEADLINE)
        chart = url("/eval/chart", run=r.name, file="accuracy_by_type.png")
        rows.append(
            f"<tr><td><code>{esc(r.name)}</code></td><td>{esc(r.created[:19])}</td><td>{esc(r.mode)}</td>"
            f"<td>{esc(r.meta.get('spec') or r.meta.get('questions') or '')}</td>"
            f"<td>{esc(r.report.get('overall', {}).get('n'))}</td>{figures}"
            f'<td><a href="{chart}">per type</a></td></tr>'
        )
    return (
        '<table class="runs"><thead><tr><th>run</th><th>created</th><th>mode</th><th>set / settings</th>'
        f"<th>n</th>{head}"
        f"<th>chart</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def trend(runs: list[Run]) -> str:
    """One small line chart per headline figure, runs oldest to newest (inline SVG)."""
    if len(runs) < 2:
        return "<p class=muted>The trend needs two runs or more.</p>"
    charts = []
    for key, label in HEADLINE:
        values = [r.headline(key) for r in runs]
        nums = [float(v) for v in values if isinstance(v, int | float)]
        if not nums:
            continue
        # The axis spans the values seen (at least 0.05, or 5% of the latency), so small moves show.
        low, high = min(nums), max(nums)
        span = max(high - low, 0.05 if key != "latency_ms_p50" else 0.05 * high or 1.0)
        low = min(low, high - span)
        w, h, n = 220, 60, len(values)
        points = [
            (round(6 + i * (w - 12) / max(1, n - 1), 1), round(h - 6 - (float(v) - low) / span * (h - 12), 1))
            for i, v in enumerate(values)
            if isinstance(v, int | float)
        ]
        line = " ".join(f"{x},{y}" for x, y in points)
        dots = "".join(f'<circle cx="{x}" cy="{y}" r="2.5"/>' for x, y in points)
        charts.append(
            f'<figure class="trend"><svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            f'aria-label="{esc(label)}"><polyline points="{line}"/>{dots}</svg>'
            f"<figcaption>{esc(label)}: {fmt(values[0])} → {fmt(values[-1])}</figcaption></figure>"
        )
    return f'<div class="trends">{"".join(charts)}</div>'


def type_table(run: Run) -> str:
    rows = "".join(
        f"<tr><td>{esc(t)}</td><td>{esc(s.get('n'))}</td><td>{fmt(type_headline(s))}</td></tr>"
        for t, s in run.report.get("by_type", {}).items()
    )
    chart = url("/eval/chart", run=run.name, file="accuracy_by_type.png")
    return (
        f"<h2>Per type · {esc(run.name)}</h2><div class=pertype><table><thead><tr><th>type</th><th>n</th>"
        f"<th>accuracy / refusal</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<img src="{chart}" alt="accuracy by type, {esc(run.name)}" loading="lazy"></div>'
    )


def filters(types: list[str], chosen: dict[str, Any], columns: list[Run]) -> str:
    opts = "".join(
        f'<option value="{esc(t)}"{" selected" if chosen.get("type") == t else ""}>{esc(t)}</option>' for t in types
    )
    verdicts = "".join(
        f'<option value="{v}"{" selected" if chosen.get("verdict") == v else ""}>{label}</option>'
        for v, label in (("fail", "fails in a run"), ("pass", "passes in every run"))
    )
    hidden = "".join(f'<input type="hidden" name="run" value="{esc(r.name)}">' for r in columns)
    changed = " checked" if chosen.get("changed") else ""
    return (
        f'<form class="filters" method="get" action="/eval/" id="grid-filters">{hidden}'
        f'<label>type <select name="type"><option value="">all</option>{opts}</select></label> '
        f'<label>verdict <select name="verdict"><option value="">any</option>{verdicts}</select></label> '
        f'<label><input type="checkbox" name="changed" value="1"{changed}> changed only</label> '
        '<button type="submit">Filter</button></form>'
    )


def grid(columns: list[Run], rows: list[tuple[str, dict[str, dict[str, Any]]]], total: int) -> str:
    head = "".join(f"<th><code>{esc(r.name)}</code></th>" for r in columns)
    body = []
    for qid, cells in rows:
        first = next(iter(cells.values()))
        tds = []
        for r in columns:
            c = cells.get(r.name)
            if c is None:
                tds.append("<td class=none>–</td>")
                continue
            ok = c["verdict"] == "pass"
            href = url("/eval/case", run=r.name, id=qid)
            tds.append(
                f'<td class="{"pass" if ok else "fail"}"><a href="{href}" title="{esc(c.get("reason"))}">'
                f"{'✓' if ok else '✗'}</a></td>"
            )
        body.append(
            f'<tr data-id="{esc(qid)}"><td><code>{esc(qid)}</code></td><td>{esc(first.get("type"))}</td>'
            f"<td class=q>{esc(first.get('question'))}</td>{''.join(tds)}</tr>"
        )
    return (
        f"<p class=muted>{len(rows)} of {total} questions shown.</p>"
        f'<table class="grid" id="grid"><thead><tr><th>id</th><th>type</th><th>question</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def expected(case: dict[str, Any]) -> str:
    if case.get("answerable") is False:
        return "<p>Should refuse: the text does not answer it.</p>"
    groups = case.get("must") or []
    if not groups:
        return "<p class=muted>No required strings.</p>"
    need = case.get("min_groups")
    items = "".join("<li>" + " / ".join(f"<q>{esc(x)}</q>" for x in g) + "</li>" for g in groups)
    note = (
        f"<p class=muted>at least {esc(need)} of these lines must appear (any alternative of a line)</p>"
        if need
        else "<p class=muted>every line must appear (any alternative of a line)</p>"
    )
    return f"<ul class=must>{items}</ul>{note}"


def when(ts: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(ts))) + " UTC" if ts else ""


def label_form(item: dict[str, Any]) -> str:
    cur = item["current"] or {}
    types = "".join(f'<option value="{t}"{" selected" if cur.get("type") == t else ""}>{t}</option>' for t in TYPES)
    seen = cur.get("id", 0)
    refuse = " checked" if cur.get("should_refuse") else ""
    return (
        f'<form method="post" action="/eval/review/{int(item["id"])}" class="label">'
        f'<input type="hidden" name="seen" value="{int(seen)}">'
        "<label>expected answer <small>(one required string a line; alternatives split by |)</small>"
        f'<textarea name="expected" rows="2">{esc(cur.get("expected", ""))}</textarea></label>'
        f'<label><input type="checkbox" name="should_refuse" value="1"{refuse}> should refuse</label> '
        f'<label>type <select name="type"><option value="">–</option>{types}</select></label> '
        '<label>reviewer <input name="reviewer" value="admin" size="10"></label> '
        '<button name="action" value="label">Label</button> '
        '<button name="action" value="dismiss" class="secondary">Dismiss</button></form>'
    )


def label_history(item: dict[str, Any]) -> str:
    if not item["labels"]:
        return ""
    rows = []
    for i, lab in enumerate(reversed(item["labels"])):
        what = (
            "dismissed"
            if lab["action"] == "dismiss"
            else ("should refuse" if lab["should_refuse"] else f"expected: {lab['expected']}")
        )
        state = "in effect" if i == 0 else "replaced"
        rows.append(
            f"<li class={'current' if i == 0 else 'old'}><b>{esc(lab['reviewer'])}</b> · {esc(when(lab['ts']))} · "
            f"{esc(lab['type'])} · {esc(what)} <em>({state})</em></li>"
        )
    return f"<ol class=history>{''.join(rows)}</ol>"
