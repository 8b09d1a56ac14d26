"""One FastAPI app for the three ways in: the chat page (/chat/), the widget (/widget.js and its
frame page /widget/) and the HTTP API (/api, /v1). Built by a factory that takes its
`AnswerService`, so tests hand in whatever answerer they need.

Model and index load in a background thread; `/readyz` turns ready when they have, and when the
starter questions have been checked against the index.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


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
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
    from starlette.exceptions import HTTPException

    from bot.api import ServiceError, build_router
    from bot.errors import error_body
    from bot.feedback import FeedbackStore
    from bot.gate import Busy
    from bot.ratelimit import RateLimited, RateLimiter
    from bot.security import SecurityMiddleware, frame_ancestors
    from bot.service import AnswerService
    from bot.web import CSS, build_chat_page, local_theme

    origins = settings.origins()
    service = service or AnswerService(settings)
    feedback = FeedbackStore(settings.feedback_target())
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app = FastAPI(
        title="qingshan-bot",
        version="0.2.0",
        description="Answers about science-and-technology innovation in Qingshan District, Baotou, "
        "with every claim cited to the passage it comes from.",
    )
    app.state.service = service
    app.state.feedback = feedback

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_validation_message(list(exc.errors()))), status_code=400)

    @app.exception_handler(UserError)
    async def on_user_error(_: Request, exc: UserError) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), status_code=400)

    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "server_error", "unavailable"), status_code=503)

    @app.exception_handler(Busy)
    async def on_busy(_: Request, exc: Busy) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(error_body(str(exc), "server_error", "busy"), status_code=503, headers=headers)

    @app.exception_handler(RateLimited)
    async def on_rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(error_body(str(exc), "rate_limit_error", "rate_limited"), status_code=429, headers=headers)

    @app.exception_handler(HTTPException)
    async def on_http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %r", exc, exc_info=exc)
        return JSONResponse(error_body("internal error; see the server log", "server_error"), status_code=500)

    # Before the widget's static-asset route, which would otherwise shadow /widget/starters.
    api, widget = build_router(service, feedback, limiter)
    app.include_router(api)
    app.include_router(widget)

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

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Any:
        # Loaded by other sites' pages: cross-origin script use is the point.
        headers = {"Cross-Origin-Resource-Policy": "cross-origin", "Cache-Control": "public, max-age=300"}
        return FileResponse(STATIC / "widget.js", media_type="text/javascript", headers=headers)

    frame_csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'none'; {frame_ancestors(origins)}"
    )

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

    app.add_middleware(SecurityMiddleware, origins=origins, max_body=settings.max_body_bytes)
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
        build_chat_page(service, feedback, limiter),
        path="/chat",
        theme=local_theme(),
        css=CSS,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
    )


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
