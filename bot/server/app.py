"""One FastAPI app for the three ways in: the chat page (/chat/), the widget (/widget.js and its
frame page /widget/) and the HTTP API (/api, /v1). Built by a factory that takes its
`AnswerService`, so tests hand in whatever answerer they need.

Model and index load in a background thread; `/readyz` turns ready when they have, and when the
starter questions have been checked against the index.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from bot.core.errors import UserError
from bot.core.profile import CorpusProfile
from bot.core.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# widget.js holds this placeholder where the corpus profile's titles go.
TITLES_SLOT = "{/*QS_TITLES*/}"


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        if e.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')})")
        else:
            parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings, service: Any = None, *, warm: bool = True) -> Any:
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    from bot import __version__
    from bot.evaluation.feedback import FeedbackStore
    from bot.server.api import build_router
    from bot.server.chat_page import CSS, build_chat_page, local_theme
    from bot.server.documents_admin import UPLOAD, upload_limit
    from bot.server.ratelimit import Admission
    from bot.server.security import SecurityMiddleware
    from bot.server.service import AnswerService

    origins = settings.origins()
    service = service or AnswerService(settings)
    feedback = FeedbackStore(settings.feedback_target())
    admission = Admission(settings)
    app = FastAPI(title="qingshan-bot", version=__version__, description=service.profile.description)
    app.state.service = service
    app.state.feedback = feedback
    _add_error_handlers(app, admission)
    # Before the widget's static-asset route, which would otherwise shadow /widget/starters.
    api, widget = build_router(service, feedback, admission)
    app.include_router(api)
    app.include_router(widget)
    _add_health_routes(app, service)
    _add_admin(app, settings, service, feedback)
    _add_widget_assets(app, origins, service.profile)
    _use_profile_example(app, service.profile.example_question)
    app.add_middleware(
        SecurityMiddleware,
        origins=origins,
        max_body=settings.max_body_bytes,
        large_bodies={UPLOAD: upload_limit(settings)},  # document uploads, behind the admin token
        large_ok=app.state.admin.allowed,  # without the token, an upload gets the ordinary limit
    )
    # Added last = outermost: answers preflight requests before the origin check sees them.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization"],
        max_age=600,
    )
    if warm:
        service.start(background=True)
    else:
        service.warm_up()
    return gr.mount_gradio_app(
        app,
        build_chat_page(service, feedback, admission),
        path="/chat",
        theme=local_theme(),
        css=CSS,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
    )


def _add_admin(app: Any, settings: Settings, service: Any, feedback: Any) -> None:
    """The admin pages: sign-in, the home that lists them, the documents page, and the
    evaluation page with its review queue."""
    from bot.server.admin_auth import AdminAuth, add_admin_home, add_login_routes
    from bot.server.documents_admin import add_document_routes
    from bot.server.identity import ClientIdentity
    from bot.server.reindex import Reindexer

    app.state.admin = AdminAuth(settings.admin_token)
    app.state.admin_sections = []  # (label, path) of each admin page; the /admin/ home lists them
    add_login_routes(app, app.state.admin, ClientIdentity(settings.forwarded_allow_ips, settings.api_key))
    add_admin_home(app, app.state.admin)
    app.state.reindexer = Reindexer(service)
    add_document_routes(app, service, app.state.reindexer)
    from bot.server.eval_page import add_eval_pages

    add_eval_pages(app, settings, service, feedback)


def _add_error_handlers(app: Any, admission: Any) -> None:
    """Every error is one JSON shape (`error_body`), with the status that says whose fault it is.
    A request refused as the client's fault spends the client's rejected budget; past it the
    answer is 429 instead, so a flood of garbage is stopped without touching the answers."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from bot.core.errors import error_body
    from bot.server.api import ServiceError
    from bot.server.gate import Busy
    from bot.server.ratelimit import RateLimited

    def retry(exc: Any, kind: str, code: str, status: int) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(error_body(str(exc), kind, code), status_code=status, headers=headers)

    def rejected(request: Request, exc: Exception, response: JSONResponse) -> JSONResponse:
        client = admission.client(request.client.host if request.client else None, request.headers)
        try:
            admission.reject(client, _language(request, exc))
        except RateLimited as limited:
            return retry(limited, "rate_limit_error", "rate_limited", 429)
        return response

    def handler(exc_type: type[Exception], make: Any, client_fault: bool = False) -> None:
        async def handle(request: Request, exc: Exception) -> Any:
            response = make(exc)
            # Not found (a page's stray asset request) is nobody's attempt at an answer.
            if client_fault and 400 <= response.status_code < 500 and response.status_code not in (404, 405):
                response = rejected(request, exc, response)
            return error_page(response) if _browser_form(request) else response

        app.add_exception_handler(exc_type, handle)

    def crash(exc: Exception) -> JSONResponse:
        log.error("unhandled error: %r", exc, exc_info=exc)
        return JSONResponse(error_body("internal error; see the server log", "server_error"), status_code=500)

    handler(
        RequestValidationError,
        lambda exc: JSONResponse(error_body(_validation_message(list(exc.errors()))), status_code=400),
        client_fault=True,
    )
    handler(UserError, lambda exc: JSONResponse(error_body(str(exc)), status_code=400), client_fault=True)
    handler(
        ServiceError,
        lambda exc: JSONResponse(error_body(str(exc), "server_error", "unavailable"), status_code=503),
    )
    handler(Busy, lambda exc: retry(exc, "server_error", "busy", 503))
    handler(RateLimited, lambda exc: retry(exc, "rate_limit_error", "rate_limited", 429))
    handler(
        HTTPException,
        lambda exc: JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers),
        client_fault=True,
    )
    handler(Exception, crash)


def _browser_form(request: Any) -> bool:
    """A form an admin page posted as a navigation (the browser then shows whatever comes back);
    the pages' own scripts fetch with Accept */* and read the JSON."""
    kind = request.headers.get("content-type", "")
    form = kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    return request.method == "POST" and form and "text/html" in request.headers.get("accept", "")


def error_page(response: Any) -> Any:
    """The JSON error as a page with the same status and headers: a reviewer whose label was
    refused reads why, with a way back, instead of a screen of JSON."""
    import html

    from fastapi.responses import HTMLResponse

    message = json.loads(response.body)["error"]["message"]
    headers = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
    body = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Not done</title></head><body>'
        '<main style="max-width:40rem;margin:4rem auto;font-family:sans-serif"><h1>未完成 · Not done</h1>'
        f'<p role="alert">{html.escape(message)}</p><p>{"Nothing was changed. " if response.status_code < 500 else ""}'
        '<a href="/admin/">Back to the admin pages</a> (or the browser\'s Back button: the form keeps what you '
        "typed).</p></main></body></html>"
    )
    return HTMLResponse(body, status_code=response.status_code, headers={**headers, "Cache-Control": "no-store"})


def _language(request: Any, exc: Exception) -> str:
    """The language of a refused request: its question's if it got that far, else the browser's."""
    from bot.server.identity import request_language

    question = getattr(request.state, "question", None)
    body = getattr(exc, "body", None)
    if question is None and isinstance(body, dict):
        messages = body.get("messages")
        last = messages[-1] if isinstance(messages, list) and messages else None
        question = body.get("question", last.get("content") if isinstance(last, dict) else None)
    return request_language(question if isinstance(question, str) else None, request.headers.get("accept-language"))


def _add_health_routes(app: Any, service: Any) -> None:
    from fastapi.responses import JSONResponse, RedirectResponse

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> Any:
        reason = service.unavailable()
        if reason is None and (down := service.degraded()):
            # Still answering (extractively), so 200: a load balancer should keep sending traffic.
            return {"status": "degraded", "mode": service.mode, "answering": "extractive", "reason": down}
        if reason is None:
            return {
                "status": "ready",
                "mode": service.mode,
                "index_version": service.answerer.retriever.version,
                "ready_in_s": round(service.ready_in_s or 0.0, 2),
            }
        body = {"status": "not ready", "reason": reason}
        return JSONResponse(body, status_code=503)

    @app.get("/", include_in_schema=False)
    def root() -> Any:
        return RedirectResponse("/chat/")


def _add_widget_assets(app: Any, origins: list[str], profile: CorpusProfile) -> None:
    """widget.js (loaded by other sites' pages) and the panel page it frames, with its assets."""
    from fastapi.responses import FileResponse, Response
    from starlette.exceptions import HTTPException

    from bot.server.security import frame_ancestors

    # The loader's default title is the corpus profile's, set here so no corpus lives in the script.
    titles = json.dumps({"zh": profile.short_title, "en": profile.short_title_en}, ensure_ascii=True)
    loader = (STATIC / "widget.js").read_text(encoding="utf-8").replace(TITLES_SLOT, titles)
    frame_csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'none'; {frame_ancestors(origins)}"
    )

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Any:
        # Loaded by other sites' pages: cross-origin script use is the point.
        headers = {"Cross-Origin-Resource-Policy": "cross-origin", "Cache-Control": "public, max-age=300"}
        return Response(loader, media_type="text/javascript", headers=headers)

    @app.get("/widget/", include_in_schema=False)
    def widget_frame() -> Any:
        return FileResponse(
            STATIC / "widget.html",
            media_type="text/html",
            headers={"Content-Security-Policy": frame_csp, "Cache-Control": "no-cache"},
        )

    @app.get("/widget/{name}", include_in_schema=False)
    def widget_asset(name: str) -> Any:
        files = {"frame.js": "text/javascript", "frame.css": "text/css"}
        if name not in files:
            raise HTTPException(404, f"no widget asset {name!r}")
        return FileResponse(STATIC / name, media_type=files[name], headers={"Cache-Control": "no-cache"})


def _use_profile_example(app: Any, question: str) -> None:
    """The OpenAPI document's example question is the corpus's own."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            ask = schema.get("components", {}).get("schemas", {}).get("AskRequest", {})
            if "question" in ask.get("properties", {}):
                ask["properties"]["question"]["examples"] = [question]
        return app.openapi_schema

    app.openapi = openapi


def serve(settings: Settings) -> None:
    import uvicorn

    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
