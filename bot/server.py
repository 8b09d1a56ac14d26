"""One FastAPI app: health checks and the Gradio page. Built by a factory that takes its
retriever, so tests can hand in whatever they need."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, retriever: Any = None, *, warm: bool = True) -> Any:
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, RedirectResponse

    from bot.retrieval import Retriever
    from bot.web import CSS, build_search_page, local_theme

    retriever = retriever or Retriever(settings)
    app = FastAPI(title="qingshan-bot", version="0.1.0")
    state: dict[str, Any] = {"ready": False, "error": None}

    def warm_up() -> None:
        try:
            seconds = retriever.warm_up()
            state["ready"] = True
            log.info("ready in %.1fs", seconds)
        except Exception as exc:  # reported by /readyz; the process stays up
            state["error"] = str(exc)
            log.error("warm-up failed: %s", exc)

    if warm:
        threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    else:
        state["ready"] = True

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        if state["ready"]:
            return {"status": "ready", "index_version": retriever.version}
        body = {"status": "not ready", "reason": state["error"] or "loading index and model"}
        return JSONResponse(body, status_code=503)

    @app.get("/", include_in_schema=False)
    def root() -> Any:
        return RedirectResponse("/chat/")

    return gr.mount_gradio_app(
        app,
        build_search_page(retriever),
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
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
