"""/admin/documents/: the documents page behind the admin token. Upload (several files, drag
and drop), replace and delete; the list shows title, format, size, chunks, when indexed and any
error. Every change schedules a background re-index (`Reindexer`); the page polls its progress.

The page is static HTML and script (CSP-friendly, nothing inline); its data is JSON under
/admin/documents/api, each route checked with `app.state.admin.require`.
"""

# No `from __future__ import annotations`: FastAPI must see the real `Request` and `UploadFile`.

import logging
from typing import Annotated, Any

from bot.server.app import STATIC

log = logging.getLogger(__name__)

PAGE = "/admin/documents/"
API = "/admin/documents/api"
UPLOAD = API + "/upload"


def upload_limit(settings: Any) -> int:
    """The largest upload body: every file at its limit, plus the multipart framing."""
    return int(settings.max_upload_files * settings.max_document_bytes + 1_000_000)


def add_document_routes(app: Any, service: Any, reindexer: Any) -> None:
    from fastapi import File, Form, Request, UploadFile
    from fastapi.responses import FileResponse, RedirectResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    settings = service.settings
    auth = app.state.admin
    app.state.admin_sections.append(("文档 · Documents", PAGE))

    @app.get(PAGE, include_in_schema=False)
    def documents_page(request: Request) -> Any:
        if not auth.enabled:
            auth.require(request)  # 403 with how to turn the pages on
        if not auth.allowed(request.headers, request.cookies):
            return RedirectResponse(f"/admin/login?next={PAGE}", status_code=303)
        return FileResponse(STATIC / "documents.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get(PAGE + "documents.js", include_in_schema=False)
    def documents_js() -> Any:
        return FileResponse(
            STATIC / "documents.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.get(API, include_in_schema=False)
    def documents_list(request: Request) -> Any:
        auth.require(request)
        return _listing(service, reindexer)

    @app.post(UPLOAD, include_in_schema=False, status_code=202)
    async def documents_upload(
        request: Request,
        files: Annotated[list[UploadFile], File()],
        replace: Annotated[str, Form()] = "",
        target: Annotated[str, Form()] = "",  # the id of the one document this file replaces
    ) -> Any:
        auth.require(request)
        if len(files) > settings.max_upload_files:
            raise HTTPException(400, f"{len(files)} files at once; the limit is {settings.max_upload_files}")
        # One byte past the limit is enough to refuse; the rest is never read into memory.
        items = [(f.filename or "", await f.read(settings.max_document_bytes + 1)) for f in files]
        # Checking a file parses it (a PDF can take a second): off the event loop, so questions flow.
        return await run_in_threadpool(_store, service, reindexer, items, replace == "1", target or None)

    @app.post(API + "/delete/{doc_id:path}", include_in_schema=False, status_code=202)
    def documents_delete(request: Request, doc_id: str) -> Any:
        auth.require(request)
        from bot.retrieval.documents import remove_document

        removed = remove_document(settings, doc_id)  # a UserError is the JSON 400 with its reason
        return {"lines": [f"removed {name}" for name in removed], "job": reindexer.request().as_dict()}


def _store(
    service: Any, reindexer: Any, items: list[tuple[str, bytes]], replace: bool, target: str | None
) -> dict[str, Any]:
    from bot.retrieval.documents import add_files

    results = add_files(service.settings, items, replace=replace, target=target)
    job = reindexer.request().as_dict() if any(not r.error for r in results) else reindexer.status.as_dict()
    return {"files": [{**r.__dict__, "line": r.line()} for r in results], "job": job}


def _listing(service: Any, reindexer: Any) -> dict[str, Any]:
    """The documents with what the index holds of each. When the index cannot be read (a Chroma
    server that is down), the corpus files are still listed, their status "unknown", and
    `index_error` says why."""
    from bot.core.errors import UserError
    from bot.retrieval.documents import catalog

    index_error = ""
    try:
        state = service.answerer.retriever.store.state()
        documents = catalog(service.settings, state.manifest if state else None)
    except Exception as exc:
        if not isinstance(exc, UserError):
            log.warning("documents listing: the index could not be read", exc_info=True)
        index_error = f"the index could not be read ({str(exc) or exc.__class__.__name__}); statuses are unknown"
        documents = [{**row, "status": "unknown"} for row in catalog(service.settings, None)]
    return {
        "documents": documents,
        "index_error": index_error,
        "job": reindexer.status.as_dict(),
        "serving": service.answerer.retriever.version,
        "limits": {
            "max_files": service.settings.max_upload_files,
            "max_bytes": service.settings.max_document_bytes,
            "types": sorted(service.settings.upload_suffixes()),
        },
    }
