"""/eval/: the evaluation page (runs, trends, the question × run grid, one case opened), the
review queue, and evaluations started from the page. Behind the admin token (admin_auth.py).

The page reads what `qingshan-bot eval` wrote under `eval_runs_dir` (bot/evaluation/runs.py):
figures from report.json, verdicts and the scorer's reasons from cases.jsonl, answers from
answers.jsonl, charts as eval drew them. Nothing is scored again here.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request`, imported lazily below.

import asyncio
import json
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.evaluation.runs import Run, find_runs
from bot.server import eval_views as v

STATIC = Path(__file__).parent / "static"
CHARTS = ("accuracy_by_type.png", "latency.png", "modes.png")
GRID_RUNS = 5  # columns of the grid unless runs are chosen
# No inline script or style: even a string that escaped escaping could not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class RunCatalog:
    """The runs under a folder; each run's cases read once per change of its file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[int, list[dict[str, Any]]]] = {}

    def runs(self) -> list[Run]:
        return find_runs(self.root)

    def cases(self, run: Run) -> list[dict[str, Any]]:
        if not run.has_cases():
            return run.cases()  # the UserError that says the run predates per-question verdicts
        stamp = run.cases_path.stat().st_mtime_ns
        hit = self._cache.get(run.cases_path)
        if hit is None or hit[0] != stamp:
            hit = (stamp, run.cases())
            self._cache[run.cases_path] = hit
        return hit[1]

    def get(self, name: str) -> Run:
        for r in self.runs():
            if r.name == name:
                return r
        raise UserError(f"no evaluation run {name!r} under {self.root}")


def html_response(body: str, status: int = 200) -> Any:
    from fastapi.responses import HTMLResponse

    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def denied(request: Any) -> Any:
    """None when the request carries the admin token; else the page saying why (403 off, 401 no token)."""
    from starlette.exceptions import HTTPException

    try:
        request.app.state.admin.require(request)
    except HTTPException as exc:
        hint = "" if exc.status_code == 403 else ' <a href="/admin/login?next=/eval/">Sign in</a>.'
        return html_response(
            v.page("评测 · Evaluation", f"<p role=alert>{v.esc(exc.detail)}{hint}</p>"), exc.status_code
        )
    return None


def add_eval_pages(app: Any, settings: Any, service: Any, feedback: Any) -> None:
    from bot.server.eval_jobs import EvalJobs

    catalog = RunCatalog(settings.eval_runs_dir)
    jobs = EvalJobs(service, settings.eval_runs_dir)
    app.state.eval_jobs = jobs
    app.state.admin_sections.append(("评测 · Evaluation", "/eval/"))
    _add_static(app)
    _add_runs_page(app, catalog, jobs, settings, service)
    _add_case_page(app, catalog)
    from bot.server.review_page import add_review_pages

    add_review_pages(app, feedback)
    _add_job_routes(app, jobs, settings, service, feedback)


def _add_static(app: Any) -> None:
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException

    css = v.stylesheet((STATIC / "eval.css").read_text(encoding="utf-8"))
    js = (STATIC / "eval.js").read_text(encoding="utf-8")

    @app.get("/eval/static/{name}", include_in_schema=False)
    def eval_static(name: str) -> Any:
        files = {"eval.css": (css, "text/css"), "eval.js": (js, "text/javascript")}
        if name not in files:
            raise HTTPException(404, f"no asset {name!r}")
        body, media = files[name]
        return Response(body, media_type=media, headers={"Cache-Control": "no-cache"})


def grid_rows(
    catalog: RunCatalog, columns: list[Run], kind: str, verdict: str, changed: bool
) -> tuple[list[tuple[str, dict[str, dict[str, Any]]]], int, list[str]]:
    """(question id, {run name: case}) for the grid, filtered; the total; every type seen."""
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for r in columns:
        for c in catalog.cases(r):
            rows.setdefault(c["id"], {})[r.name] = c
    types = sorted({str(c.get("type")) for cells in rows.values() for c in cells.values()})
    out = []
    for qid, cells in rows.items():
        verdicts = {c["verdict"] for c in cells.values()}
        if kind and next(iter(cells.values())).get("type") != kind:
            continue
        if (verdict == "fail" and "fail" not in verdicts) or (verdict == "pass" and verdicts != {"pass"}):
            continue
        if changed and len(verdicts) < 2:
            continue
        out.append((qid, cells))
    return out, len(rows), types


def _add_runs_page(app: Any, catalog: RunCatalog, jobs: Any, settings: Any, service: Any) -> None:
    from fastapi import Request

    @app.get("/eval/", include_in_schema=False)
    def eval_home(request: Request) -> Any:
        if (refused := denied(request)) is not None:
            return refused
        q = request.query_params
        runs = catalog.runs()
        scored = [r for r in runs if r.has_cases()]
        chosen = q.getlist("run")
        columns = [r for r in scored if r.name in chosen] if chosen else scored[-GRID_RUNS:]
        rows, total, types = grid_rows(
            catalog, columns, q.get("type", ""), q.get("verdict", ""), bool(q.get("changed"))
        )
        parts = [
            "<h2>Runs</h2>",
            v.runs_table(runs) if runs else f"<p>No runs under <code>{v.esc(settings.eval_runs_dir)}</code> yet.</p>",
            "<h2>Trend</h2>",
            v.trend(runs),
            v.type_table(runs[-1]) if runs else "",
            _run_form(jobs, settings, service),
            "<h2>Questions × runs</h2>",
            v.filters(types, dict(q), columns),
            v.grid(columns, rows, total),
        ]
        return html_response(v.page("评测 · Evaluation", "".join(parts), "runs"))

    @app.get("/eval/chart", include_in_schema=False)
    def eval_chart(request: Request, run: str, file: str) -> Any:
        from fastapi.responses import FileResponse
        from starlette.exceptions import HTTPException

        if (refused := denied(request)) is not None:
            return refused
        path = catalog.get(run).folder / file
        if file not in CHARTS or not path.is_file():
            raise HTTPException(404, f"no chart {file!r} in run {run!r}")
        return FileResponse(path, media_type="image/png")


def _add_case_page(app: Any, catalog: RunCatalog) -> None:
    from fastapi import Request

    from bot.server.render import render_answer

    @app.get("/eval/case", include_in_schema=False)
    def eval_case(request: Request, run: str, id: str) -> Any:
        if (refused := denied(request)) is not None:
            return refused
        this = catalog.get(run)
        case = next((c for c in catalog.cases(this) if c["id"] == id), None)
        if case is None:
            raise UserError(f"run {run!r} has no question {id!r}")
        answer = this.answers({id}).get(id)
        others = []
        for r in catalog.runs():
            if r.has_cases() and r.name != run:
                c = next((x for x in catalog.cases(r) if x["id"] == id), None)
                if c is not None:
                    others.append(
                        f'<li><a href="{v.url("/eval/case", run=r.name, id=id)}">{v.esc(r.name)}</a>: '
                        f"{v.esc(c['verdict'])}</li>"
                    )
        history = "".join(
            f"<li><b>{v.esc(t.get('role'))}</b>: {v.esc(t.get('content'))}</li>" for t in case.get("history") or []
        )
        body = (
            f"<p class=muted>run <code>{v.esc(run)}</code> · {v.esc(case.get('type'))} · "
            f"<code>{v.esc(id)}</code></p>"
            + (f"<h2>Earlier turns</h2><ul>{history}</ul>" if history else "")
            + f"<h2>Question</h2><p class=question>{v.esc(case.get('question'))}</p>"
            + f'<h2>Verdict: <span class="{v.esc(case["verdict"])}">{v.esc(case["verdict"])}</span></h2>'
            + f"<p class=reason>{v.esc(case.get('reason'))}</p>"
            + "<h2>Expected</h2>"
            + v.expected(case)
            + "<h2>Answer</h2>"
            + (render_answer(_renderable(answer)) if answer else "<p>No answer stored for it.</p>")
            + (f"<h2>Other runs</h2><ul>{''.join(others)}</ul>" if others else "")
        )
        return html_response(v.page(f"评测 · {id}", body, "runs"))


def _renderable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answers.jsonl row as the chat page's renderer takes it (old rows may lack fields)."""
    return {
        "answer": answer.get("answer", ""),
        "refused": bool(answer.get("refused")),
        "mode": answer.get("mode", ""),
        "notice": answer.get("notice"),
        "timings": answer.get("timings") or {},
        "citations": [c for c in answer.get("citations") or [] if isinstance(c, dict) and "text" in c],
    }


def offered_sets(settings: Any) -> dict[str, Path | None]:
    """Question sets the page may run: eval_sets_dir/*.jsonl, and the reviewed queue (None)."""
    found: dict[str, Path | None] = {p.stem: p for p in sorted(Path(settings.eval_sets_dir).glob("*.jsonl"))}
    found["reviewed"] = None
    return found


def _run_form(jobs: Any, settings: Any, service: Any) -> str:
    sets = "".join(f'<option value="{v.esc(name)}">{v.esc(name)}</option>' for name in offered_sets(settings))
    modes = "".join(f'<option value="{m}">{m}</option>' for m in _modes(service))
    state = jobs.state
    running = state.get("status") == "running"
    status = v.esc(
        {
            "running": f"running {state.get('set')} ({state.get('mode')})",
            "done": f"finished: {state.get('run')} (accuracy {state.get('accuracy')})",
            "cancelled": f"cancelled: {state.get('message')}",
            "failed": f"failed: {state.get('message')}",
        }.get(state.get("status", ""), "")
    )
    return (
        '<h2>Run an evaluation</h2><form method="post" action="/eval/run" class="start">'
        f'<label>set <select name="set">{sets}</select></label> '
        f'<label>mode <select name="mode">{modes}</select></label> '
        '<label>first <input type="number" name="limit" min="1" placeholder="all" size="5"> questions</label> '
        f"<button{' disabled' if running else ''}>Start</button></form>"
        f'<div id="run-progress" data-running="{int(running)}"{"" if running else " hidden"}>'
        f'<progress value="{int(state.get("done", 0))}" max="{max(1, int(state.get("total", 1)))}"></progress> '
        f'<span class="count">{int(state.get("done", 0))} / {int(state.get("total", 0))}</span> '
        '<form method="post" action="/eval/run/cancel" class="inline"><button class="secondary">Cancel</button>'
        f'</form></div><p id="run-status" class=muted>{status}</p>'
    )


def _modes(service: Any) -> list[str]:
    """Extractive always; the server's own mode too when it has a model."""
    return ["extractive"] + ([service.mode] if service.mode and service.mode != "extractive" else [])


def _add_job_routes(app: Any, jobs: Any, settings: Any, service: Any, feedback: Any) -> None:
    from fastapi import Form, Request
    from fastapi.responses import RedirectResponse, StreamingResponse

    @app.post("/eval/run", include_in_schema=False)
    def start_run(request: Request, set: str = Form(...), mode: str = Form(...), limit: str = Form("")) -> Any:
        request.app.state.admin.require(request)
        sets = offered_sets(settings)
        if set not in sets or mode not in _modes(service):
            raise UserError(f"unknown set {set!r} or mode {mode!r}")
        questions = _set_questions(sets[set], feedback)
        if limit.strip():
            if not limit.strip().isdigit() or int(limit) < 1:
                raise UserError("the number of questions must be a whole number, at least 1")
            questions = questions[: int(limit)]
        jobs.start(questions, set, mode)
        return RedirectResponse("/eval/", status_code=303)

    @app.post("/eval/run/cancel", include_in_schema=False)
    def cancel_run(request: Request) -> Any:
        request.app.state.admin.require(request)
        jobs.cancel()
        return RedirectResponse("/eval/", status_code=303)

    @app.get("/eval/run/events", include_in_schema=False)
    async def run_events(request: Request) -> Any:
        request.app.state.admin.require(request)

        async def events() -> Any:
            last = None
            while True:
                state = dict(jobs.state)
                if state != last:
                    yield f"data: {json.dumps(state, ensure_ascii=False)}\n\n"
                    last = state
                if state.get("status") != "running" or await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _set_questions(path: Path | None, feedback: Any) -> list[dict[str, Any]]:
    if path is None:
        from bot.evaluation.review import reviewed_cases

        questions = reviewed_cases(feedback)
        if not questions:
            raise UserError("the review queue has no labelled items yet")
        return questions
    from bot.core.jsonl import read_jsonl

    return [dict(item, id=item.get("id", n)) for n, item in read_jsonl(path, "question set")]
